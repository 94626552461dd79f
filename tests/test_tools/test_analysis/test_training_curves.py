"""tools/analysis/training_curves.py: the plots of a run's scalars.json."""
import json
import os

import pytest
from mmpretrain.utils import load_json_log

from tests.helpers import run_tool
from tools.analysis.training_curves import (
    HEALTH_PANELS,
    find_scalars_file,
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
    assert stdout.split() == [str(out / f'{n}.png') for n in names]
    for name in names:
        assert (out / f'{name}.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
