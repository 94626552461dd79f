"""tools/analysis/training_curves.py: the command that plots a run's scalars.json."""
import pytest

from cgh_mm.runtime import scalar_logs
from tests.helpers import load_tool, run_tool, write_resumed_run, write_scalars

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'training_curves.py'


def test_the_command_writes_the_three_plots_from_one_read_of_the_run(tmp_path, monkeypatch):
    write_scalars(tmp_path)
    reads = []
    read_scalars = scalar_logs.read_scalars
    monkeypatch.setattr(scalar_logs, 'read_scalars',
                        lambda path: reads.append(path) or read_scalars(path))
    out = tmp_path / 'plots'
    stdout = run_tool(TOOL, tmp_path, '--out-dir', out)
    names = ('cgh_loss_terms', 'cgh_health', 'knn_accuracy')
    assert stdout.split()[-3:] == [str(out / f'{n}.png') for n in names]
    assert '20260101_000000: iterations 1-5' in stdout  # what was drawn
    for name in names:
        assert (out / f'{name}.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert len(reads) == 1, reads


def test_the_command_says_what_it_draws(tmp_path):
    resumed_run = write_resumed_run(tmp_path / 'run')
    out = run_tool(TOOL, resumed_run, '--out-dir', tmp_path / 'plots')
    assert '20260101_000000: iterations 1-4' in out and '20260101_010000: iterations 5-10' in out
    assert (tmp_path / 'plots' / 'cgh_loss_terms.png').read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.parametrize('head, teaching', [
    (None, None),  # no config saved beside the scalars
    ("dict(type='CrossContextHead')", 'cross'),  # the head's default
    ("dict(type='CrossContextHead', teaching='same')", 'same'),
    ("dict(type='ContrastiveHead', temperature=0.2)", None),  # MoCo v2
])
def test_the_teaching_is_read_from_the_config_saved_with_the_run(tmp_path, head, teaching):
    scalars_file = write_scalars(tmp_path)
    if head is not None:
        (tmp_path / '20260101_000000' / 'vis_data' / 'config.py').write_text(
            f"custom_imports = dict(imports=['no_such_module'])\nmodel = dict(head={head})\n")
    tool = load_tool(TOOL)
    assert tool.run_teaching(str(tmp_path)) == teaching
    assert tool.run_teaching(scalars_file) == teaching
