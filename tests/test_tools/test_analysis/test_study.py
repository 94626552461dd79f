"""The study tool: records only finished runs of exact configs, resumes, draws from its file."""
import fcntl
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

import cgh_mm.evaluation.study as grid_and_records
from tests.helpers import NARROW, SYNTHETIC_CONFIG, load_tool, raises_stating

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
STUDY = osp.join(ROOT, 'tools', 'analysis', 'study.py')
study = load_tool(STUDY)


def synthetic_knn_config(path, max_epochs: int = 2) -> str:
    """The synthetic config, narrow, 2 iterations per epoch, with the kNN monitor."""
    def labelled(seed, num_images):
        return dict(batch_size=16, num_workers=0, collate_fn=dict(type='default_collate'),
                    sampler=dict(type='DefaultSampler', shuffle=False),
                    dataset=dict(type='SyntheticImageDataset', num_images=num_images,
                                 image_size=64, num_classes=4, seed=seed,
                                 pipeline=[dict(type='PackInputs')]))

    model = dict(NARROW, queue_len=32)  # a refill in 2 iterations: the 1-epoch warm-up
    model.pop('type')
    text = '\n'.join([
        f'_base_ = [{SYNTHETIC_CONFIG!r}]',
        f'model = {model!r}',
        'train_dataloader = dict(dataset=dict(num_images=32))',
        f'val_dataloader = {labelled(1, 16)!r}',
        f"val_cfg = dict(type='KNNValLoop', memory_dataloader={labelled(0, 32)!r})",
        "val_evaluator = dict(type='WeightedKNNAccuracy', k=20, temperature=0.07)",
        f'train_cfg = dict(val_interval=1, max_epochs={max_epochs})',
        "default_hooks = dict(checkpoint=dict(interval=2))",
    ])
    path.write_text(text)
    return str(path)


def run_study(*args, returncode=0, script=STUDY, env=None) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, script, *map(str, args)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == returncode, out.stdout + out.stderr
    return out


@pytest.mark.slow
def test_tiny_grid_records_resumes_and_refuses_smoke_runs(tmp_path):
    config = synthetic_knn_config(tmp_path / 'tiny.py')
    grid = tmp_path / 'grid.json'
    grid.write_text(json.dumps({'demo': {'cross': config, 'random-init': config}}))
    results = tmp_path / 'results.jsonl'
    common = ['--grid', grid, '--budgets', 'demo', '--results', results,
              '--work-dir', tmp_path / 'runs', '--memory-size', 24]
    out = run_study('run', *common, '--seeds', 0).stdout
    assert '2 runs to do' in out and 'failed' not in out, out
    dirty = study.checkout_state()['dirty']
    recorded = study.load_results(str(results))
    if dirty:  # a working tree with changes: printed, refused
        assert recorded == [] and out.count('commit first') == 2
        return
    assert sorted(r['method'] for r in recorded) == ['cross', 'random-init']
    cross = next(r for r in recorded if r['method'] == 'cross')
    assert cross['finished'] and cross['iters'] == cross['max_iters'] == 4
    assert cross['commit'] == study.git('rev-parse', 'HEAD') and cross['seed'] == 0
    assert [e for e, _ in cross['knn_curve']] == [1, 2]
    assert 0 <= cross['knn_top1'] <= 100 and cross['memory_size'] == 24
    assert cross['query_size'] == 16 and 'health/global_target_entropy' in cross['health']
    # recorded runs are skipped; a smoke run is printed, never recorded
    assert '0 runs to do' in run_study('run', *common, '--seeds', 0).stdout
    out = run_study('run', *common, '--seeds', 1, '--methods', 'cross',
                    '--smoke-iters', 2).stdout
    assert '--smoke-iters 2' in out  # why it was not recorded
    assert len(study.load_results(str(results))) == 2


def fake_run(method, seed, knn, budget='demo'):
    return dict(method=method, budget=budget, seed=seed, config='c.py', commit='0123456789ab',
                dirty=False, smoke=0, finished=True, knn_top1=knn, linear_top1=knn + 1,
                train_s=10.0, knn_k=20, knn_temperature=0.07, memory_size=100,
                query_size=50, knn_curve=[[1, knn - 5], [2, knn]])


@pytest.mark.slow
def test_report_draws_mean_std_and_every_run_from_the_file_only(tmp_path):
    results = tmp_path / 'results.jsonl'
    runs = [fake_run('cross', s, v) for s, v in enumerate((70.0, 72.0, 74.0))]
    runs += [fake_run('mocov2', s, 80.0) for s in range(3)]
    runs.append(dict(fake_run('global', 0, 99.0), smoke=2))  # never drawn
    results.write_text(''.join(json.dumps(r) + '\n' for r in runs))
    out = run_study('report', '--results', results, '--out-dir', tmp_path).stdout
    table = (tmp_path / 'results.md').read_text()
    assert table in out
    cross = next(line for line in table.splitlines() if '| cross |' in line)
    assert '| 3 | 72.00 ± 2.00 | 73.00 ± 2.00 | 0: 70.00, 1: 72.00, 2: 74.00 |' in cross
    assert '| mocov2 | 3 | 80.00 ± 0.00 |' in table and 'global' not in table
    assert osp.getsize(tmp_path / 'knn_per_epoch.png') > 10_000


@pytest.mark.slow
def test_report_refuses_an_empty_file(tmp_path):
    out = subprocess.run([sys.executable, STUDY, 'report', '--results', tmp_path / 'none.jsonl',
                          '--out-dir', tmp_path], capture_output=True, text=True)
    assert out.returncode != 0 and 'study.py run' in out.stderr


def write_results(path, runs, tail=''):
    path.write_text(''.join(json.dumps(r) + '\n' for r in runs) + tail)
    return path


def test_the_recorded_study_reports_its_committed_table():
    """Today's results file, as recorded, draws exactly the committed results.md."""
    text, _ = study.results_markdown(study.RESULTS)
    with open(osp.join(ROOT, 'docs', 'study', 'results.md')) as f:
        assert text == f.read()


def grid_args(tmp_path, results, methods, seeds):
    """``study.py run`` of the study's own grid on ``results``."""
    import argparse
    return argparse.Namespace(
        grid=None, budgets=['demo', '3x'], methods=methods, seeds=seeds, results=str(results),
        memory_size=10000, jobs=2, threads=1, work_dir=str(tmp_path / 'runs'), data_root=None,
        smoke_iters=0)


def test_runs_recorded_under_the_configs_old_paths_are_done(tmp_path, monkeypatch, capsys):
    """The committed records name the configs where they were before they moved (the
    cross-l234 runs included): `run` still skips them."""
    with open(study.RESULTS) as f:
        committed = f.read()
    records = [json.loads(line) for line in committed.splitlines()]
    old_l234 = 'configs/study/cgh-l234_resnet18_1xb64-6e_fashion-mnist.py'
    assert grid_and_records.MOVED_CONFIGS[old_l234] == study.GRID['demo']['cross-l234']
    assert any(r['config'] == old_l234 for r in records)
    results = write_results(tmp_path / 'results.jsonl', [], committed)
    monkeypatch.setattr(study, 'checkout_state', lambda: dict(commit='0' * 40, dirty=False))

    def busy(work_dir):  # a run to do is skipped, never started
        raise study.WorkDirBusyError(f'{work_dir} is in use')

    monkeypatch.setattr(study, 'lock_work_dir', busy)
    methods = sorted({r['method'] for r in records})  # each recorded with seeds 0, 1, 2
    study.run_grid(grid_args(tmp_path, results, methods, [0, 1, 2]))
    out = capsys.readouterr().out
    assert out.count(f'0 runs to do, {len(records)} recorded') == 1, out
    # the table of moves is what makes them count: without it every run recorded under an
    # old path is to do again (33: 8 methods x 3 seeds at the demo budget, 3 x 3 at 3x)
    moved = {(r['budget'], r['method'], r['seed']) for r in records
             if r['config'] in grid_and_records.MOVED_CONFIGS and r['seed'] in (0, 1, 2)}
    monkeypatch.setattr(grid_and_records, 'MOVED_CONFIGS', {})
    study.run_grid(grid_args(tmp_path, results, methods, [0, 1, 2]))
    out = capsys.readouterr().out
    assert f'{len(moved)} runs to do' in out and out.count('skipped') == len(moved) == 33


@pytest.mark.slow
def test_report_counts_each_run_once_and_never_pools_settings(tmp_path):
    runs = [fake_run('cross', s, v) for s, v in enumerate((70.0, 72.0, 74.0))]
    runs.append(dict(runs[0]))  # a line recorded twice
    runs += [dict(fake_run('cross', s, v), memory_size=40) for s, v in enumerate((60.0, 62.0))]
    runs.append(dict(fake_run('random-init', 0, 50.0), memory_size=40))
    results = write_results(tmp_path / 'results.jsonl', runs)
    out = run_study('report', '--results', results, '--out-dir', tmp_path).stdout
    table = (tmp_path / 'results.md').read_text()
    assert table in out
    big, small = table.split('## ')[1:]
    assert 'memory 100 train images' in big.splitlines()[0]
    assert 'memory 40 train images' in small.splitlines()[0]
    (cross, ) = [line for line in big.splitlines() if '| cross |' in line]
    assert '| 3 | 72.00 ± 2.00 |' in cross and '0: 70.00, 1: 72.00, 2: 74.00' in cross
    (cross, ) = [line for line in small.splitlines() if '| cross |' in line]
    assert '| 2 | 61.00 ± 1.41 |' in cross
    assert 'random-init' in small and 'random-init' not in big
    assert 'demo cross seed 0' in table and 'lines 1, 4' in table  # the duplicate, once
    assert osp.getsize(tmp_path / 'knn_per_epoch.png') > 10_000


def test_a_run_recorded_twice_with_different_numbers_is_refused(tmp_path):
    runs = [fake_run('cross', 0, 70.0), fake_run('mocov2', 0, 71.0), fake_run('cross', 0, 75.0)]
    results = write_results(tmp_path / 'results.jsonl', runs)
    with raises_stating(study.ResultsFileError, str(results), 'cross seed 0', 'lines 1, 3',
                        'delete'):
        study.results_markdown(str(results))
    # another config or memory size is another run, not a duplicate
    runs[2] = dict(runs[2], memory_size=40)
    text, groups = study.results_markdown(str(write_results(results, runs)))
    assert 'cross seed 0' not in text and len(groups) == 3  # no duplicate named


@pytest.mark.slow
def test_report_and_run_name_a_broken_line_without_a_traceback(tmp_path):
    cut = json.dumps(fake_run('cross', 2, 72.0))[:60]
    results = write_results(tmp_path / 'results.jsonl', [fake_run('cross', 0, 70.0)], tail=cut)
    out = run_study('report', '--results', results, '--out-dir', tmp_path, returncode=1)
    assert 'line 2' in out.stderr and str(results) in out.stderr
    assert 'Traceback' not in out.stderr and not (tmp_path / 'results.md').exists()
    out = run_study('run', *tiny_grid(tmp_path), '--memory-size', 24, returncode=1)
    assert 'line 2' in out.stderr and 'Traceback' not in out.stderr
    assert not (tmp_path / 'runs').exists()


def test_record_never_joins_a_cut_off_line(tmp_path, capsys):
    good = fake_run('cross', 0, 70.0)
    cut = json.dumps(fake_run('cross', 1, 71.0))[:60]
    results = write_results(tmp_path / 'results.jsonl', [good], tail=cut)
    assert study.record(fake_run('cross', 2, 72.0), str(results))
    assert 'line 2' in capsys.readouterr().out
    lines = results.read_text().splitlines()
    assert lines[:2] == [json.dumps(good), cut]
    assert json.loads(lines[2])['seed'] == 2  # intact, on its own line
    lines.pop(1)  # the fix the error names: delete the cut line; both records remain
    results.write_text('\n'.join(lines) + '\n')
    assert [r['seed'] for r in study.load_results(str(results))] == [0, 2]


def test_record_writes_a_run_once_and_under_the_files_lock(tmp_path, capsys):
    results = tmp_path / 'results.jsonl'
    assert study.record(fake_run('cross', 0, 70.0), str(results))
    assert not study.record(fake_run('cross', 0, 70.0), str(results))
    assert f'line 1 of {results}' in capsys.readouterr().out  # where it is recorded
    assert study.record(dict(fake_run('cross', 0, 70.0), memory_size=40), str(results))
    assert len(study.load_results(str(results))) == 2
    # another process holds the file's lock: the record waits for it
    with open(results) as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        writer = threading.Thread(target=study.record, args=(fake_run('cross', 1, 71.0),
                                                             str(results)))
        writer.start()
        writer.join(timeout=0.5)
        assert writer.is_alive() and len(study.load_results(str(results))) == 2
    writer.join(timeout=10)
    assert not writer.is_alive() and len(study.load_results(str(results))) == 3


def tiny_grid(tmp_path, methods=('random-init', ), max_epochs=2):
    config = synthetic_knn_config(tmp_path / 'tiny.py', max_epochs)
    grid = tmp_path / 'grid.json'
    grid.write_text(json.dumps({'demo': {m: config for m in methods}}))
    return ['--grid', grid, '--budgets', 'demo', '--results', tmp_path / 'results.jsonl',
            '--work-dir', tmp_path / 'runs', '--seeds', 0]


@pytest.mark.slow
def test_a_work_dir_in_use_is_skipped_not_shared(tmp_path):
    work_dir = tmp_path / 'runs' / 'demo' / 'random-init' / 'seed0'
    fd = study.lock_work_dir(str(work_dir))  # as another study.py running that run holds it
    try:
        out = run_study('run', *tiny_grid(tmp_path), '--memory-size', 24).stdout
    finally:
        os.close(fd)
    assert 'skipped' in out and f'pid {os.getpid()}' in out
    assert sorted(os.listdir(work_dir)) == ['study.lock']  # no run started in it
    assert not (tmp_path / 'results.jsonl').exists()


@pytest.mark.slow
def test_memory_size_is_checked_before_any_training(tmp_path):
    """Smaller than k: refused by the command; larger than the memory set (32 images):
    refused by the run before its Runner is built."""
    out = run_study('run', *tiny_grid(tmp_path), '--memory-size', 8, returncode=2)
    assert '--memory-size 8' in out.stderr and 'k=20' in out.stderr
    assert '--memory-size 20' in out.stderr and not (tmp_path / 'runs').exists()
    out = run_study('run', *tiny_grid(tmp_path, ('cross', )), '--memory-size', 40).stdout
    assert 'failed' in out
    work_dir = tmp_path / 'runs' / 'demo' / 'cross' / 'seed0'
    assert 'has 32 images' in (work_dir / 'run.log').read_text()
    assert sorted(os.listdir(work_dir)) == ['run.log', 'study.lock']  # nothing trained


@pytest.mark.slow
def test_a_checkout_without_git_is_refused_before_any_run(tmp_path):
    copy = tmp_path / 'copy'
    (copy / 'tools' / 'analysis').mkdir(parents=True)
    shutil.copy(STUDY, copy / 'tools' / 'analysis')
    env = dict(os.environ, GIT_CEILING_DIRECTORIES=str(tmp_path))
    out = run_study('run', *tiny_grid(tmp_path), '--memory-size', 24, returncode=1, env=env,
                    script=copy / 'tools' / 'analysis' / 'study.py')
    assert str(copy) in out.stderr and 'git clone' in out.stderr
    assert 'Traceback' not in out.stderr and not (tmp_path / 'runs').exists()


def children_of_run(work_root):
    """Pids of the `study.py one` processes whose work dir is under ``work_root``."""
    pids = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                argv = f.read().split(b'\0')
        except OSError:
            continue
        if b'one' in argv and any(a.startswith(str(work_root).encode()) for a in argv):
            pids.append(int(pid))
    return pids


def wait_for(condition, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f'not within {timeout} s')


def gone(pid):
    """Whether process ``pid`` has ended (exited, or a zombie waiting to be reaped)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'Z'
    except FileNotFoundError:
        return True


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='reads /proc')
def test_stopping_run_stops_its_training(tmp_path):
    """SIGTERM (or Ctrl-C) and even SIGKILL of `study.py run` end the training it started:
    a rerun never finds a second training in the work dir."""
    args = tiny_grid(tmp_path, ('cross', ), max_epochs=500)
    for stop in (signal.SIGTERM, signal.SIGKILL):
        parent = subprocess.Popen([sys.executable, STUDY, 'run', *map(str, args),
                                   '--memory-size', '24'], cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            (child, ) = wait_for(lambda: children_of_run(tmp_path / 'runs'))
            work_dir = tmp_path / 'runs' / 'demo' / 'cross' / 'seed0'
            started = len(list(work_dir.glob('2*_*')))
            # training has begun: the Runner wrote its timestamped folder
            wait_for(lambda: len(list(work_dir.glob('2*_*'))) > started)  # noqa: B023
            parent.send_signal(stop)
            _, err = parent.communicate(timeout=60)
            wait_for(lambda: gone(child), timeout=30)  # noqa: B023 (called in the loop)
        finally:  # whatever failed, no training of this test is left behind
            if parent.poll() is None:
                parent.kill()
                parent.wait()
            for pid in children_of_run(tmp_path / 'runs'):
                os.kill(pid, signal.SIGKILL)
        if stop == signal.SIGTERM:
            assert parent.returncode == 1 and 'SIGTERM' in err
