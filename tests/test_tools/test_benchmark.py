import importlib.util
import math
import os
import re

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LAST_LINE = re.compile(r'^CGH/MoCo step-time ratio: (\d+\.\d\d), peak-memory ratio: (\d+\.\d\d)$')
MODEL_ROW = re.compile(r'^(CGH|MoCo)\s+(\S+) ms\s+(\S+) ms\s+(\S+)\s+(\S+) MiB\s+(\S+)$')


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        'benchmark', os.path.join(REPO_ROOT, 'tools', 'analysis', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def positive_finite(text: str) -> float:
    value = float(text)
    assert math.isfinite(value) and value > 0, text
    return value


def test_tiny_run_is_well_formed(capsys):
    benchmark = load_benchmark()
    benchmark.main(['--device', 'cpu', '--arch', 'resnet18', '--resolution', '32',
                    '--batch', '4', '--queue-len', '64', '--threads', '1', '--rounds', '1',
                    '--steps-per-round', '1', '--warmup', '1', '--memory-repeats', '1'])
    lines = capsys.readouterr().out.strip().splitlines()

    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    for value in match.groups():
        positive_finite(value)

    rows = {m.group(1): m.groups()[1:] for m in map(MODEL_ROW.match, lines) if m}
    assert set(rows) == {'CGH', 'MoCo'}
    for step_ms, fastest_ms, images_s, peak_mib, gmacs in rows.values():
        assert positive_finite(images_s) == pytest.approx(4 / (positive_finite(step_ms) / 1e3),
                                                          rel=0.05)
        assert positive_finite(fastest_ms) <= float(step_ms) + 0.05
        positive_finite(peak_mib)
        positive_finite(gmacs)

    stages = [ln.split() for ln in lines if ln.startswith('  ') and ln.rstrip().endswith('%')]
    assert {' '.join(s[:-4]) for s in stages} == set(benchmark.TIMED_STAGES)
    assert sum(float(s[-2]) for s in stages) == pytest.approx(100, abs=0.5)

    flops_ratio = next(ln for ln in lines if ln.startswith('CGH/MoCo FLOPs ratio'))
    efficiency = next(ln for ln in lines if ln.startswith('efficiency'))
    time_ratio = float(match.group(1))
    assert positive_finite(efficiency.split()[-1]) == pytest.approx(
        time_ratio / positive_finite(flops_ratio.split()[-1]), rel=0.02, abs=0.01)


def test_cgh_does_more_work_than_moco_at_equal_settings():
    # The FLOPs count must see CGH's second neck and its four relations.
    benchmark = load_benchmark()
    args = benchmark.parse_args(['--resolution', '32', '--batch', '4', '--queue-len', '64'])
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    models = {name: benchmark.build_model(name, args) for name in ('CGH', 'MoCo')}
    flops = {name: benchmark.step_flops(name, model, args, 4, 64)
             for name, model in models.items()}
    more_queue = {name: benchmark.step_flops(name, model, args, 4, 128)
                  for name, model in models.items()}
    assert models['CGH'].feat_dim == 512  # the paper's necks by default
    # One more queue slot costs 6 relation MACs per embedding dim and image for CGH, 2 for MoCo.
    assert more_queue['CGH'] - flops['CGH'] == 6 * 4 * 512 * 64
    assert more_queue['MoCo'] - flops['MoCo'] == 2 * 4 * 128 * 64
    assert flops['CGH'] > flops['MoCo']
    scaled = benchmark.build_model('CGH', benchmark.parse_args(
        ['--resolution', '32', '--batch', '4', '--queue-len', '64', '--necks', 'scaled']))
    assert scaled.feat_dim == 128
    assert benchmark.step_flops('CGH', scaled, args, 4, 64) < flops['CGH']


def test_bad_arguments_name_the_fix():
    benchmark = load_benchmark()
    with pytest.raises(SystemExit, match='multiple of --batch'):
        benchmark.check_args(benchmark.parse_args(['--batch', '5', '--queue-len', '64']))
    with pytest.raises(SystemExit, match='--device cuda'):
        benchmark.check_args(benchmark.parse_args(['--device', 'cpu', '--amp']))
    with pytest.raises(SystemExit, match='--memory-repeats must be > 0'):
        benchmark.check_args(benchmark.parse_args(['--memory-repeats', '0']))


def test_sweep_writes_a_plot_and_one_row_per_setting(tmp_path, capsys, monkeypatch):
    benchmark = load_benchmark()
    monkeypatch.setattr(benchmark, 'SWEEP_QUEUE_LENS', (32, 64))
    png = tmp_path / 'sweep.png'
    benchmark.main(['--resolution', '32', '--batch', '4', '--queue-len', '64', '--threads', '1',
                    '--rounds', '1', '--steps-per-round', '1', '--warmup', '0',
                    '--memory-repeats', '1', '--no-breakdown', '--sweep',
                    '--sweep-png', str(png)])
    lines = capsys.readouterr().out.splitlines()
    rows = [ln.split() for ln in lines
            if re.match(r'^\s*\d+\s+\d+\s+(CGH|MoCo)\s', ln)]
    # queue 32 and 64 at batch 4, then batch 2 and 8 at queue 64; both models each
    settings = sorted({(int(r[0]), int(r[1])) for r in rows})
    assert settings == [(2, 64), (4, 32), (4, 64), (8, 64)]
    assert len(rows) == 8
    for row in rows:
        positive_finite(row[3])
        positive_finite(row[4])
    # a larger batch is more work for both models
    gmacs = {(int(r[0]), int(r[1]), r[2]): float(r[4]) for r in rows}
    for name in ('CGH', 'MoCo'):
        assert gmacs[(2, 64, name)] < gmacs[(4, 64, name)] < gmacs[(8, 64, name)]
    assert png.exists() and png.stat().st_size > 1000
    assert LAST_LINE.match(lines[-1])
