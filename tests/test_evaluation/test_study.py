"""cgh_mm/evaluation/study.py: the study's grid, its kNN protocol and its results file read back."""
import json
import os.path as osp

import torch

from cgh_mm.evaluation import weighted_knn_accuracy
from cgh_mm.evaluation.study import (
    GRID,
    KNN,
    KNN_SETTINGS,
    MOVED_CONFIGS,
    RESULTS_FILE,
    SETTINGS,
    ResultsFileError,
    knn_top1,
    load_results,
    mean_std,
    recorded_runs,
    refusal,
)
from tests.helpers import REPO, raises_stating


def recorded_run(method, seed, knn):
    return dict(method=method, budget='demo', seed=seed, config='c.py', commit='0123456789ab',
                dirty=False, smoke=0, finished=True, knn_top1=knn, linear_top1=knn + 1,
                train_s=10.0, knn_k=20, knn_temperature=0.07, memory_size=100, query_size=50)


def write_results(path, runs, tail=''):
    path.write_text(''.join(json.dumps(r) + '\n' for r in runs) + tail)
    return str(path)


def test_refusals_name_the_reason():
    ok = dict(smoke=0, finished=True, dirty=False, commit='abc')
    assert refusal(ok) is None
    assert 'smoke' in refusal(dict(ok, smoke=3))
    assert '3 of 8' in refusal(dict(ok, finished=False, iters=3, max_iters=8))
    dirty = refusal(dict(ok, dirty=True))  # the commit it differs from, and the fix
    assert 'abc' in dirty and 'commit' in dirty


def test_every_config_of_the_grid_exists_and_every_recorded_one_is_known():
    grid = {config for budget in GRID.values() for config in budget.values()}
    assert all(osp.isfile(osp.join(REPO, config)) for config in grid)
    assert set(MOVED_CONFIGS.values()) <= grid
    assert not set(MOVED_CONFIGS) & grid
    with open(osp.join(REPO, RESULTS_FILE)) as f:
        recorded = {json.loads(line)['config'] for line in f if line.strip()}
    assert recorded <= grid | set(MOVED_CONFIGS)


def test_a_broken_line_is_named_with_its_file_and_fix(tmp_path):
    good = [recorded_run('cross', s, 70.0 + s) for s in range(2)]
    cut = json.dumps(recorded_run('cross', 2, 72.0))[:60]
    results = write_results(tmp_path / 'results.jsonl', good, tail=cut)
    with raises_stating(ResultsFileError, results, 'line 3', 'cut off', 'delete'):
        load_results(results)
    write_results(tmp_path / 'results.jsonl', good,
                  tail='{"budget": "demo", "method": "cross"}\n')
    with raises_stating(ResultsFileError, 'line 3', 'seed', 'knn_top1'):
        load_results(results)


def test_each_run_counts_once_and_unrecordable_runs_not_at_all(tmp_path):
    runs = [recorded_run('cross', s, v) for s, v in enumerate((70.0, 72.0, 74.0))]
    runs.append(dict(runs[0]))  # recorded twice, the same numbers
    runs.append(dict(recorded_run('cross', 3, 99.0), smoke=2))  # a smoke run
    results, notes = recorded_runs(write_results(tmp_path / 'results.jsonl', runs))
    assert sorted(r['seed'] for r in results) == [0, 1, 2]
    assert notes == ['demo cross seed 0 (lines 1, 4)']
    assert mean_std([r['knn_top1'] for r in results]) == '72.00 ± 2.00'
    assert mean_std([70.0]) == '70.00'
    runs[3] = dict(runs[0], knn_top1=75.0)  # recorded twice, other numbers
    with raises_stating(ResultsFileError, 'cross seed 0', 'lines 1, 4', 'delete'):
        recorded_runs(write_results(tmp_path / 'results.jsonl', runs))


def test_knn_top1_is_the_weighted_knn_with_the_study_settings():
    gen = torch.Generator().manual_seed(0)
    memory = torch.randn(200, 8, generator=gen), torch.randint(0, 4, (200, ), generator=gen)
    query = torch.randn(100, 8, generator=gen), torch.randint(0, 4, (100, ), generator=gen)

    def accuracy(k, temperature):
        return weighted_knn_accuracy(*memory, *query, num_classes=4, ks=(k, ),
                                     temperature=temperature)[k]

    top1 = knn_top1(memory, query, num_classes=4)
    assert top1 == accuracy(KNN['k'], KNN['temperature'])
    # these features tell the settings apart: another k or temperature gives another number
    assert top1 != accuracy(5, KNN['temperature']) and top1 != accuracy(KNN['k'], 1.0)
    # a record states the settings by the names the study compares runs by
    assert set(KNN_SETTINGS) < set(SETTINGS)
    assert KNN_SETTINGS == dict(knn_k=KNN['k'], knn_temperature=KNN['temperature'])
