import io
import sys

import torch
import torch.nn as nn
from mmpretrain.structures import DataSample

from cgh_mm.evaluation import extract_features


class Identity(nn.Module):
    def forward(self, batch, training):
        return dict(inputs=batch['inputs'], data_samples=batch['data_samples'])


def test_progress_bar_only_on_a_terminal(monkeypatch):
    model = nn.Module()
    model.backbone = nn.Conv2d(3, 4, 1)
    model.data_preprocessor = Identity()
    loader = [dict(inputs=torch.randn(2, 3, 4, 4),
                   data_samples=[DataSample().set_gt_label(i) for i in range(2)])] * 3

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stream, expect_bar in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, 'stderr', stream)
        features, labels = extract_features(model, loader, progress=True)
        assert features.shape == (6, 4) and labels.tolist() == [0, 1] * 3
        assert ('features' in stream.getvalue()) is expect_bar
