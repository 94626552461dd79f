"""tools/analysis/training_curves.py: the plots of a run's scalars.json."""
import json
import os

import pytest
from mmpretrain.utils import load_json_log

from tests.helpers import run_tool
from tools.analysis.training_curves import (
    HEALTH_PANELS,
    find_scalars_file,
    load_run,
    load_scalars,
    plot_health,
    plot_knn_accuracy,
    plot_loss_terms,
    scalar_series,
)

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'training_curves.py'


@pytest.fixture
def scalars_file(tmp_path):
    vis = tmp_path / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    health = [key for keys in HEALTH_PANELS.values() for key, _ in keys]
    records = [dict(lr=0.1, loss_nce=5.0 - i, loss_hyper=0.1 * i, loss_global=0.2 * i,
                    alpha=i / 4, step=i + 1, **{k: 0.5 + 0.1 * i for k in health})
               for i in range(5)]
    records.insert(3, {'knn/top1': 40.0, 'step': 1})
    records.append({'knn/top1': 55.5, 'step': 2})
    path = vis / 'scalars.json'
    path.write_text('\n'.join(json.dumps(r) for r in records) + '\n')
    return str(path)


def test_series_and_discovery(scalars_file, tmp_path):
    assert find_scalars_file(str(tmp_path)) == scalars_file
    records = load_json_log(scalars_file)
    assert scalar_series(records['val'], 'knn/top1') == ([1.0, 2.0], [40.0, 55.5])
    assert scalar_series(records['train'], 'alpha')[1] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_plots_are_written(scalars_file, tmp_path):
    loss_png, knn_png, health_png = (str(tmp_path / f'{n}.png') for n in ('loss', 'knn', 'h'))
    fig = plot_loss_terms(scalars_file, loss_png)
    loss_ax, alpha_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ['loss_nce', 'loss_hyper',
                                                            'loss_global']
    assert list(alpha_ax.lines[0].get_ydata()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    fig = plot_knn_accuracy(dict(CGH=scalars_file, MoCo=scalars_file), knn_png,
                            baselines={'random init': 30.0, 'raw pixels': 35.0})
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ['CGH', 'MoCo', 'random init', 'raw pixels']
    assert list(lines[0].get_ydata()) == [40.0, 55.5] and list(lines[2].get_ydata()) == [30, 30]
    fig = plot_health(scalars_file, health_png)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 4]
    assert list(fig.axes[1].lines[0].get_ydata()) == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert len(fig.axes[0].patches) == 1  # the warm-up, shaded
    for png in (loss_png, knn_png, health_png):
        with open(png, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        assert os.path.getsize(png) > 1000


def test_clear_errors(tmp_path, scalars_file):
    with pytest.raises(FileNotFoundError, match='scalars.json'):
        find_scalars_file(str(tmp_path / 'empty'))
    with pytest.raises(ValueError, match='kNN monitor'):
        plot_knn_accuracy(dict(CGH=scalars_file), key='knn/top5')
    with pytest.raises(ValueError, match='CGH run'):
        plot_loss_terms(scalars_file, terms=('loss_x', ))
    no_health = tmp_path / 'no_health.json'
    no_health.write_text(json.dumps(dict(lr=0.1, loss=1.0, step=1)) + '\n')
    with pytest.raises(ValueError, match='CGH run'):
        plot_health(str(no_health))


@pytest.mark.slow
def test_importing_and_plotting_leave_matplotlib_as_the_user_set_it(scalars_file, tmp_path):
    import subprocess
    import sys
    code = (
        'import matplotlib, matplotlib.pyplot as plt\n'
        f'import sys; sys.path.insert(0, {str(TOOL.parent)!r})\n'
        'import training_curves as vis\n'
        f'vis.plot_knn_accuracy({{"run": {scalars_file!r}}}, {str(tmp_path / "k.png")!r})\n'
        f'vis.plot_health({scalars_file!r}, {str(tmp_path / "h.png")!r})\n'
        'print(matplotlib.get_backend(), plt.get_fignums())\n')
    env = dict(os.environ, MPLBACKEND='svg')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split('\n')[0] == 'svg []'  # the user's backend, no figure left open
    assert os.path.getsize(tmp_path / 'k.png') > 1000


def test_the_command_writes_the_three_plots(scalars_file, tmp_path):
    out = tmp_path / 'plots'
    stdout = run_tool(TOOL, tmp_path, '--out-dir', out)
    names = ('cgh_loss_terms', 'cgh_health', 'knn_accuracy')
    assert stdout.split()[-3:] == [str(out / f'{n}.png') for n in names]
    assert '20260101_000000: iterations 1-5' in stdout  # what was drawn
    for name in names:
        assert (out / f'{name}.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def write_part(work_dir, stamp, train_steps, val_after=(), resumed_from=None, tail=''):
    """One start of a run: ``<stamp>/vis_data/scalars.json`` with a train record per step
    (2 iterations per epoch) and a kNN record after each step in ``val_after``, and the
    start's log, with mmengine's line if it resumed."""
    vis = work_dir / stamp / 'vis_data'
    vis.mkdir(parents=True)
    lines = []
    for step in train_steps:
        lines.append(json.dumps(dict(lr=0.1, loss_nce=1.0 / step, alpha=1.0, step=step)))
        if step in val_after:
            lines.append(json.dumps({'knn/top1': 10.0 * step, 'step': step // 2}))
    (vis / 'scalars.json').write_text('\n'.join(lines) + '\n' + tail)
    log = '2026/01/01 00:00:00 - mmengine - INFO - Checkpoints will be saved to ...\n'
    if resumed_from is not None:
        log += (f'2026/01/01 00:00:01 - mmengine - INFO - resumed epoch: {resumed_from // 2}, '
                f'iter: {resumed_from}\n')
    (work_dir / stamp / f'{stamp}.log').write_text(log)


@pytest.fixture
def resumed_run(tmp_path):
    """Killed at iteration 7 (mid-write), resumed from the epoch-2 checkpoint (iteration 4),
    then finished at 10; then a test run in the same work dir. The killed part logged
    epoch 3's kNN, which the resumed part computed again."""
    work_dir = tmp_path / 'run'
    write_part(work_dir, '20260101_000000', range(1, 8), val_after=(2, 4, 6),
               tail='{"lr": 0.1, "loss_nce": 0.1')
    write_part(work_dir, '20260101_010000', range(5, 11), val_after=(6, 8, 10),
               resumed_from=4)
    test = work_dir / '20260101_020000' / 'vis_data'
    test.mkdir(parents=True)
    (test / 'scalars.json').write_text(json.dumps({'knn/top1': 99.0, 'step': 0}) + '\n')
    return work_dir


def test_a_resumed_run_is_drawn_whole(resumed_run):
    records, parts = load_run(str(resumed_run))
    assert [r['step'] for r in records['train']] == list(range(1, 11))
    assert scalar_series(records['val'], 'knn/top1') == (
        [1.0, 2.0, 3.0, 4.0, 5.0], [20.0, 40.0, 60.0, 80.0, 100.0])
    assert parts[0].startswith('20260101_000000: iterations 1-4')
    assert '4 later records left out' in parts[0]  # steps 5-7 and epoch 3's kNN
    assert parts[1].startswith('20260101_010000: iterations 5-10')
    assert parts[2].startswith('20260101_020000: skipped, no training records')
    fig = plot_loss_terms(str(resumed_run))
    assert list(fig.axes[0].lines[0].get_xdata()) == list(range(1, 11))
    assert load_scalars(str(resumed_run)) == records


def test_parts_are_joined_without_the_resume_line_and_a_fresh_start_is_its_own_run(tmp_path):
    work_dir = tmp_path / 'run'
    write_part(work_dir, '20260101_000000', range(1, 8))
    write_part(work_dir, '20260101_010000', range(5, 11))  # log level WARNING: no line
    records, parts = load_run(str(work_dir))
    assert [r['step'] for r in records['train']] == list(range(1, 11))
    write_part(work_dir, '20260102_000000', range(1, 4))  # started again from scratch
    records, parts = load_run(str(work_dir))
    assert [r['step'] for r in records['train']] == [1, 2, 3]
    assert parts[0].startswith('20260102_000000: iterations 1-3')
    assert 'another run' in parts[1] and '20260101_010000' in parts[1]


def test_a_broken_line_inside_a_log_is_named(tmp_path):
    work_dir = tmp_path / 'run'
    write_part(work_dir, '20260101_000000', range(1, 4))
    path = work_dir / '20260101_000000' / 'vis_data' / 'scalars.json'
    lines = path.read_text().splitlines()
    path.write_text('\n'.join([lines[0], lines[1][:20], lines[2]]) + '\n')
    with pytest.raises(ValueError, match='line 2'):
        load_run(str(work_dir))


def test_the_command_says_what_it_draws(resumed_run, tmp_path):
    out = run_tool(TOOL, resumed_run, '--out-dir', tmp_path / 'plots')
    assert '20260101_000000: iterations 1-4' in out and '20260101_010000: iterations 5-10' in out
    assert (tmp_path / 'plots' / 'cgh_loss_terms.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
