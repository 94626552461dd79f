"""tools/analysis/bn_traffic.py: bytes per step of shuffle-BN and SyncBN."""

import pytest
from mmengine.config import Config

from tests.helpers import load_tool

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'bn_traffic.py'


def test_bytes_per_step_by_collective():
    tool = load_tool(TOOL)
    res = tool.bytes_per_step(world_size=8, batch_per_gpu=32, resolution=224, feat_dim=512,
                              trainable_params=1000, student_bn=[64, 128], teacher_bn=[64])
    shuffle, sync = res['shuffle-BN'], res['SyncBN']
    # the teacher's images of the 7 other ranks, float32
    assert shuffle['teacher images all-gather'] == 7 * 32 * 3 * 224 * 224 * 4
    assert shuffle['teacher embeddings unshuffle'] == 7 * 2 * 32 * 512 * 4
    assert sync['SyncBN forward statistics'] == 7 * ((2 * 64 + 1) * 2 + 2 * 128 + 1) * 4
    assert sync['SyncBN backward sums'] == pytest.approx(2 * 7 / 8 * 2 * (64 + 128) * 4)
    for mode in (shuffle, sync):
        assert mode['DDP gradient all-reduce'] == pytest.approx(2 * 7 / 8 * 1000 * 4)
    assert all(v == 0 for mode in tool.bytes_per_step(1, 32, 224, 512, 1000, [64], [64]).values()
               for v in mode.values())


@pytest.mark.slow
def test_r50_counts_and_table(capsys):
    config = REPO / 'configs' / 'cgh' / 'cgh_resnet50_8xb32-coslr-200e_in1k.py'
    tool = load_tool(TOOL)
    counts = tool.model_counts(Config.fromfile(config))
    # ResNet-50: 53 BN layers (stem, 16 blocks x 3, 4 downsamples) + the fusion conv's BN
    assert len(counts['teacher_bn']) == len(counts['student_bn']) == 54
    tool.main([str(config), '--world-sizes', '8', '64'])
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.split() and line.split()[0] in ('8', '64')]
    (w8, shuffle8, images8, sync8, *_), (w64, shuffle64, images64, sync64, *_) = rows
    assert float(images8) == pytest.approx(7 * 32 * 3 * 224 * 224 * 4 / 1e6, abs=0.1)
    assert float(images64) == pytest.approx(63 / 7 * float(images8), rel=1e-3)
    assert float(sync64) < float(shuffle64)


def test_global_only_model_has_one_context(tmp_path):
    """teaching='global' builds no hypercolumn branch: no BN layers or keys of it."""
    base = REPO / 'configs' / 'cgh' / 'cgh_resnet18_1xb16-2e_synthetic.py'
    config = tmp_path / 'global.py'
    config.write_text(f'_base_ = [{str(base)!r}]\n'
                      "model = dict(backbone=dict(out_indices=(3, )), hypercolumn_neck=None,\n"
                      "             head=dict(teaching='global'))\n")
    tool = load_tool(TOOL)
    both, one = (tool.model_counts(Config.fromfile(c)) for c in (base, config))
    assert (both['contexts'], one['contexts']) == (2, 1)
    assert len(one['teacher_bn']) == len(both['teacher_bn']) - 1  # the fusion conv's BN
    res = tool.bytes_per_step(8, 32, 224, 128, 1000, [64], [64], contexts=1)['shuffle-BN']
    assert res['teacher keys for the queues'] == res['teacher embeddings unshuffle'] == \
        7 * 32 * 128 * 4
