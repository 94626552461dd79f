"""cgh_mm/runtime/scalar_logs.py: a run's scalars.json read back, a resumed run whole."""
import gc
import warnings
from types import SimpleNamespace

from mmpretrain.utils import load_json_log

from cgh_mm.runtime import scalar_logs
from cgh_mm.runtime.scalar_logs import find_scalars_file, load_run, load_scalars, scalar_series
from tests.helpers import raises_stating, write_resumed_run, write_run_part, write_scalars


def test_series_and_discovery(tmp_path):
    scalars_file = write_scalars(tmp_path)
    assert find_scalars_file(str(tmp_path)) == scalars_file
    records = load_json_log(scalars_file)
    assert scalar_series(records['val'], 'knn/top1') == ([1.0, 2.0], [40.0, 55.5])
    assert scalar_series(records['train'], 'alpha')[1] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert load_scalars(scalars_file) == records
    # where it looked, what for, and the backend that writes it
    with raises_stating(FileNotFoundError, tmp_path / 'empty', 'scalars.json', 'LocalVisBackend'):
        find_scalars_file(str(tmp_path / 'empty'))


def test_a_resumed_run_is_read_whole(tmp_path):
    resumed_run = write_resumed_run(tmp_path / 'run')
    records, parts = load_run(str(resumed_run))
    assert [r['step'] for r in records['train']] == list(range(1, 11))
    assert scalar_series(records['val'], 'knn/top1') == (
        [1.0, 2.0, 3.0, 4.0, 5.0], [20.0, 40.0, 60.0, 80.0, 100.0])
    assert parts[0].startswith('20260101_000000: iterations 1-4')
    assert '4 later records left out' in parts[0]  # steps 5-7 and epoch 3's kNN
    assert parts[1].startswith('20260101_010000: iterations 5-10')
    assert parts[2].startswith('20260101_020000') and 'skipped' in parts[2]
    assert load_scalars(str(resumed_run)) == records


def test_parts_are_joined_without_the_resume_line_and_a_fresh_start_is_its_own_run(tmp_path):
    work_dir = tmp_path / 'run'
    write_run_part(work_dir, '20260101_000000', range(1, 8))
    write_run_part(work_dir, '20260101_010000', range(5, 11))  # log level WARNING: no line
    records, parts = load_run(str(work_dir))
    assert [r['step'] for r in records['train']] == list(range(1, 11))
    write_run_part(work_dir, '20260102_000000', range(1, 4))  # started again from scratch
    records, parts = load_run(str(work_dir))
    assert [r['step'] for r in records['train']] == [1, 2, 3]
    assert parts[0].startswith('20260102_000000: iterations 1-3')
    assert 'another run' in parts[1] and '20260101_010000' in parts[1]


def test_a_broken_line_inside_a_log_is_named(tmp_path):
    work_dir = tmp_path / 'run'
    write_run_part(work_dir, '20260101_000000', range(1, 4))
    path = work_dir / '20260101_000000' / 'vis_data' / 'scalars.json'
    lines = path.read_text().splitlines()
    path.write_text('\n'.join([lines[0], lines[1][:20], lines[2]]) + '\n')
    with raises_stating(ValueError, path, 'line 2'):
        load_run(str(work_dir))


def test_each_log_is_read_once_and_closed(tmp_path, monkeypatch):
    """A run resumed from a checkpoint of another work dir: its log says so once, read once."""
    work_dir = tmp_path / 'run'
    write_run_part(work_dir, '20260101_000000', range(5, 11), resumed_from=4)
    searched = []
    resumed = scalar_logs._RESUMED
    monkeypatch.setattr(scalar_logs, '_RESUMED', SimpleNamespace(
        search=lambda text: searched.append(text) or resumed.search(text)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always', ResourceWarning)
        _, parts = load_run(str(work_dir))
        gc.collect()
    assert 'resumed from iteration 4' in parts[0]
    assert len(searched) == 1
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
