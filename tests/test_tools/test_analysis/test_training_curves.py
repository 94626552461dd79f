"""tools/analysis/training_curves.py: the command that plots a run's scalars.json."""
from tests.helpers import run_tool, write_resumed_run, write_scalars

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'training_curves.py'


def test_the_command_writes_the_three_plots(tmp_path):
    write_scalars(tmp_path)
    out = tmp_path / 'plots'
    stdout = run_tool(TOOL, tmp_path, '--out-dir', out)
    names = ('cgh_loss_terms', 'cgh_health', 'knn_accuracy')
    assert stdout.split()[-3:] == [str(out / f'{n}.png') for n in names]
    assert '20260101_000000: iterations 1-5' in stdout  # what was drawn
    for name in names:
        assert (out / f'{name}.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_the_command_says_what_it_draws(tmp_path):
    resumed_run = write_resumed_run(tmp_path / 'run')
    out = run_tool(TOOL, resumed_run, '--out-dir', tmp_path / 'plots')
    assert '20260101_000000: iterations 1-4' in out and '20260101_010000: iterations 5-10' in out
    assert (tmp_path / 'plots' / 'cgh_loss_terms.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
