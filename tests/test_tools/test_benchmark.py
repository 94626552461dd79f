import math
import os
import re

import pytest

from tests.helpers import load_tool

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAST_LINE = re.compile(r'^CGH/MoCo step-time ratio: (\d+\.\d\d), peak-memory ratio: (\d+\.\d\d)$')
MODEL_ROW = re.compile(r'^(CGH|MoCo)\s+(\S+) ms\s+(\S+) ms\s+(\S+)\s+(\S+) MiB\s+(\S+)$')
TINY = ['--resolution', '32', '--batch', '4', '--queue-len', '64', '--threads', '1',
        '--rounds', '1', '--steps-per-round', '1', '--warmup', '1', '--memory-repeats', '1']


def load_benchmark():
    return load_tool(os.path.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py'))


def positive_finite(text: str) -> float:
    value = float(text)
    assert math.isfinite(value) and value > 0, text
    return value


@pytest.mark.slow
def test_tiny_run_is_well_formed(capsys):
    load_benchmark().main(TINY)
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    time_ratio, _ = (positive_finite(v) for v in match.groups())

    rows = {m.group(1): m.groups()[1:] for m in map(MODEL_ROW.match, lines) if m}
    assert set(rows) == {'CGH', 'MoCo'}
    for step_ms, fastest_ms, images_s, peak_mib, gmacs in rows.values():
        assert positive_finite(images_s) == pytest.approx(4 / (positive_finite(step_ms) / 1e3),
                                                          rel=0.05)
        assert positive_finite(fastest_ms) <= float(step_ms) + 0.05
        positive_finite(peak_mib)
        positive_finite(gmacs)
    # the operators of each model's step, the heaviest first
    for name in ('CGH', 'MoCo'):
        ops = next(ln for ln in lines if ln.startswith(f'  {name} '))
        times = [float(t) for t in re.findall(r' (\d+\.\d)(?:,|$)', ops)]
        assert len(times) == 8 and times == sorted(times, reverse=True)
        assert 'convolution' in ops
    macs = next(ln for ln in lines if ln.startswith('CGH/MoCo MACs ratio'))
    macs_ratio, efficiency = map(float, re.findall(r': (\d+\.\d+)', macs))
    assert macs_ratio > 1
    assert efficiency == pytest.approx(time_ratio / macs_ratio, rel=0.02, abs=0.01)


def test_models_come_from_configs_and_cgh_does_more_work():
    # The MACs count must see CGH's second neck and its four relations.
    from mmengine.registry import init_default_scope

    import cgh_mm.models  # noqa: F401  (registers CGH)
    benchmark = load_benchmark()
    init_default_scope('mmpretrain')
    args = benchmark.parse_args(TINY)
    models = {name: benchmark.build(name, args)[0] for name in benchmark.NAMES}
    macs = {name: benchmark.step_macs(name, m, args) for name, m in models.items()}
    longer = benchmark.parse_args(TINY[:4] + ['--queue-len', '128'])
    more_queue = {name: benchmark.step_macs(name, m, longer) for name, m in models.items()}
    assert models['CGH'].feat_dim == 512  # the paper's necks by default
    assert models['CGH'].hypercolumn_neck.fuse.conv.out_channels == 512  # as wide as layer4
    assert models['MoCo'].queue.shape == (128, 64)
    # One more slot costs 6 relation MACs per embedding dim and image for CGH, 2 for MoCo.
    assert more_queue['CGH'] - macs['CGH'] == 6 * 4 * 512 * 64
    assert more_queue['MoCo'] - macs['MoCo'] == 2 * 4 * 128 * 64
    assert macs['CGH'] > macs['MoCo']
    scaled = benchmark.build('CGH', benchmark.parse_args(TINY + ['--necks', 'scaled']))[0]
    assert scaled.feat_dim == 128  # configs/_base_/models/cgh_r18.py
    assert benchmark.step_macs('CGH', scaled, args) < macs['CGH']


@pytest.mark.parametrize('argv, message', [
    (['--batch', '5', '--queue-len', '64'], 'multiple of --batch'),
    (['--device', 'cpu', '--amp'], 'GPUs only'),
    (['--memory-repeats', '0'], '--memory-repeats must be > 0'),
    (['--arch', 'resnet50', '--necks', 'scaled'], 'give --cgh-config'),
])
def test_bad_arguments_name_the_fix(argv, message, capsys):
    with pytest.raises(SystemExit):
        load_benchmark().parse_args(argv)
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_sweep_writes_a_plot_and_one_row_per_setting(tmp_path, capsys, monkeypatch):
    benchmark = load_benchmark()
    monkeypatch.setattr(benchmark, 'SWEEP_QUEUE_LENS', (32, 64))
    png = tmp_path / 'sweep.png'
    benchmark.main(TINY + ['--warmup', '0', '--sweep', '--sweep-png', str(png)])
    rows = [ln.split() for ln in capsys.readouterr().out.splitlines()
            if re.match(r'^\s*\d+\s+\d+\s+\d', ln)]
    # queue 32 and 64 at batch 4, then batch 2 and 8 at queue 64
    assert [(int(r[0]), int(r[1])) for r in rows] == [(4, 32), (4, 64), (2, 64), (8, 64)]
    for row in rows:
        step_cgh, step_moco, time_ratio, macs_ratio, efficiency = map(float, row[2:])
        assert time_ratio == pytest.approx(step_cgh / step_moco, rel=0.02)
        assert efficiency == pytest.approx(time_ratio / macs_ratio, rel=0.02, abs=0.01)
    assert png.exists() and png.stat().st_size > 1000


def test_global_only_cgh_counts_its_one_context(tmp_path):
    """--cgh-config of a teaching='global' model (no hypercolumn branch): its MACs count
    the global context only."""
    from mmengine.registry import init_default_scope

    import cgh_mm.models  # noqa: F401  (registers CGH)
    config = tmp_path / 'cgh_global.py'
    config.write_text(
        f"_base_ = [{os.path.join(REPO_ROOT, 'configs/_base_/models/cgh_r18.py')!r}]\n"
        "model = dict(backbone=dict(out_indices=(3, )), hypercolumn_neck=None,\n"
        "             head=dict(teaching='global'))\n")
    benchmark = load_benchmark()
    init_default_scope('mmpretrain')
    args = benchmark.parse_args(TINY + ['--cgh-config', str(config)])
    model = benchmark.build('CGH', args)[0]
    assert model.hypercolumn_neck is None
    longer = benchmark.parse_args(TINY[:4] + ['--queue-len', '128', '--cgh-config', str(config)])
    # one more slot: the student's relation (x2) and the teacher's, of one context
    assert benchmark.step_macs('CGH', model, longer) - benchmark.step_macs('CGH', model, args) \
        == 3 * 4 * model.feat_dim * 64
