"""tools/analysis/loader_benchmark.py runs end to end on a few tiny samples (no timing)."""
import re

import pytest
import torch

from tests.helpers import load_tool

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'loader_benchmark.py'


def test_benchmark_runs_and_prints_the_ratio(capsys):
    module = load_tool(TOOL)
    module.main(['--num-images', '3', '--samples', '2', '--rounds', '1', '--device', 'cpu',
                 '--batch-size', '2', '--device-repeats', '1'])
    out = capsys.readouterr().out
    assert len(re.findall(r'samples/s/core', out)) == 3
    assert re.search(r'JPEG decode: cv2 [\d.]+ ms, pillow [\d.]+ ms', out)
    assert re.search(r'device side of \(c\): [\d.]+ ms/sample on cpu \(\d+ threads\)', out)
    assert re.search(r'^ratio: \d+\.\d\d$', out.strip().splitlines()[-1])


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without CUDA')
def test_cuda_device_without_cuda_is_refused_before_any_measurement(monkeypatch, capsys):
    module = load_tool(TOOL)

    def measured(*args, **kwargs):
        raise AssertionError('a measurement ran before --device cuda was refused')

    monkeypatch.setattr(module, 'make_photos', measured)
    monkeypatch.setattr(module, 'cpu_rates', measured)
    with pytest.raises(SystemExit) as exit_info:
        module.main(['--device', 'cuda'])
    assert exit_info.value.code == 2  # argparse's usage error
    message = capsys.readouterr().err
    assert '--device cuda' in message and 'torch.cuda.is_available()' in message
    assert '--device cpu' in message
