"""The study tool: records only finished runs of exact configs, resumes, draws from its file."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from tests.helpers import NARROW, SYNTHETIC_CONFIG

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
STUDY = osp.join(ROOT, 'tools', 'analysis', 'study.py')
sys.path.insert(0, osp.dirname(STUDY))
import study  # noqa: E402


def synthetic_knn_config(path) -> str:
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
        'train_cfg = dict(val_interval=1)',
        "default_hooks = dict(checkpoint=dict(interval=2))",
    ])
    path.write_text(text)
    return str(path)


def run_study(*args) -> str:
    out = subprocess.run([sys.executable, STUDY, *map(str, args)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_refusals_name_the_reason():
    ok = dict(smoke=0, finished=True, dirty=False, commit='abc')
    assert study.refusal(ok) is None
    assert 'smoke' in study.refusal(dict(ok, smoke=3))
    assert '3 of 8' in study.refusal(dict(ok, finished=False, iters=3, max_iters=8))
    assert 'commit first' in study.refusal(dict(ok, dirty=True))


@pytest.mark.slow
def test_tiny_grid_records_resumes_and_refuses_smoke_runs(tmp_path):
    config = synthetic_knn_config(tmp_path / 'tiny.py')
    grid = tmp_path / 'grid.json'
    grid.write_text(json.dumps({'demo': {'cross': config, 'random-init': config}}))
    results = tmp_path / 'results.jsonl'
    common = ['--grid', grid, '--budgets', 'demo', '--results', results,
              '--work-dir', tmp_path / 'runs', '--memory-size', 24]
    out = run_study('run', *common, '--seeds', 0)
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
    assert '0 runs to do' in run_study('run', *common, '--seeds', 0)
    out = run_study('run', *common, '--seeds', 1, '--methods', 'cross', '--smoke-iters', 2)
    assert 'not recorded: a smoke run' in out
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
    out = run_study('report', '--results', results, '--out-dir', tmp_path)
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
