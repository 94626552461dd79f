"""cgh_mm/visualization/training_curves.py: the figures of a CGH run's scalar logs."""
import json
import os
import subprocess
import sys

import pytest

from cgh_mm.runtime.scalar_logs import load_scalars
from cgh_mm.visualization.training_curves import plot_health, plot_knn_accuracy, plot_loss_terms
from tests.helpers import raises_stating, write_resumed_run, write_scalars


@pytest.fixture
def scalars_file(tmp_path):
    return write_scalars(tmp_path)


@pytest.fixture
def records(scalars_file):
    return load_scalars(scalars_file)


def test_plots_are_written(records, tmp_path):
    loss_png, knn_png, health_png = (str(tmp_path / f'{n}.png') for n in ('loss', 'knn', 'h'))
    fig = plot_loss_terms(records, loss_png)
    loss_ax, alpha_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == ['loss_nce', 'loss_hyper',
                                                            'loss_global']
    assert list(alpha_ax.lines[0].get_ydata()) == [0.0, 0.25, 0.5, 0.75, 1.0]
    fig = plot_knn_accuracy(dict(CGH=records, MoCo=records), knn_png,
                            baselines={'random init': 30.0, 'raw pixels': 35.0})
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == ['CGH', 'MoCo', 'random init', 'raw pixels']
    assert list(lines[0].get_ydata()) == [40.0, 55.5] and list(lines[2].get_ydata()) == [30, 30]
    fig = plot_health(records, health_png)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2, 4]
    assert list(fig.axes[1].lines[0].get_ydata()) == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9])
    assert len(fig.axes[0].patches) == 1  # the warm-up, shaded
    for png in (loss_png, knn_png, health_png):
        with open(png, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
        assert os.path.getsize(png) > 1000


def test_health_of_a_run_with_global_relations_only(tmp_path):
    """teaching='global' (the study's `global` method) logs the global context's health
    only: each panel draws what the run logged."""
    fig = plot_health(load_scalars(write_scalars(tmp_path, contexts=('global', ))))
    assert [len(ax.lines) for ax in fig.axes] == [1, 1, 2]
    labels = [line.get_label() for ax in fig.axes for line in ax.lines]
    assert all('global' in label and 'hyper' not in label for label in labels), labels


def test_health_labels_name_the_teacher_from_the_teaching(records):
    """Which context's relations are a loss's target depends on the run's teaching: named
    when given, never assumed."""
    def target_labels(**kwargs):
        return [line.get_label() for line in plot_health(records, **kwargs).axes[0].lines]

    assert not any('teacher' in label for label in target_labels())
    hyper, global_ = target_labels(teaching='cross')
    assert hyper.endswith('(teacher global)') and global_.endswith('(teacher hypercolumn)')
    hyper, global_ = target_labels(teaching='same')
    assert hyper.endswith('(teacher hypercolumn)') and global_.endswith('(teacher global)')
    with raises_stating(ValueError, "'other'", 'cross', 'same', 'global'):
        plot_health(records, teaching='other')


def test_a_resumed_run_is_drawn_whole(tmp_path):
    fig = plot_loss_terms(load_scalars(str(write_resumed_run(tmp_path / 'run'))))
    assert list(fig.axes[0].lines[0].get_xdata()) == list(range(1, 11))


def test_clear_errors(tmp_path, records):
    # the run, the key it lacks, and what logs that key
    with raises_stating(ValueError, 'CGH', 'knn/top5', 'KNNValLoop', 'WeightedKNNAccuracy'):
        plot_knn_accuracy(dict(CGH=records), key='knn/top5')
    with raises_stating(ValueError, 'run.json', "['loss_x']"):
        plot_loss_terms(records, terms=('loss_x', ), name='run.json')
    no_health = tmp_path / 'no_health.json'
    no_health.write_text(json.dumps(dict(lr=0.1, loss=1.0, step=1)) + '\n')
    with raises_stating(ValueError, no_health, 'health/', 'CrossContextHead'):
        plot_health(load_scalars(str(no_health)), name=str(no_health))


@pytest.mark.slow
def test_importing_and_plotting_leave_matplotlib_as_the_user_set_it(scalars_file, tmp_path):
    code = (
        'import matplotlib, matplotlib.pyplot as plt\n'
        'import cgh_mm.visualization as vis\n'
        'from cgh_mm.runtime.scalar_logs import load_scalars\n'
        f'run = load_scalars({scalars_file!r})\n'
        f'vis.plot_knn_accuracy({{"run": run}}, {str(tmp_path / "k.png")!r})\n'
        f'vis.plot_health(run, {str(tmp_path / "h.png")!r})\n'
        'print(matplotlib.get_backend(), plt.get_fignums())\n')
    env = dict(os.environ, MPLBACKEND='svg')
    out = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split('\n')[0] == 'svg []'  # the user's backend, no figure left open
    assert os.path.getsize(tmp_path / 'k.png') > 1000
