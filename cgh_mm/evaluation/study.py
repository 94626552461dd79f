"""The multi-seed study of docs/study.md, as ``tools/analysis/study.py`` runs and reports it
and ``tools/demo.py`` compares with it: its grid of configs, its final kNN protocol (the
loaders, the settings and the accuracy both tools measure), and its results file read back
(each run once; only runs recorded as the study requires)."""
import json
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

from torch import Tensor

from .functional import weighted_knn_accuracy

RESULTS_FILE = 'docs/study/results.jsonl'  # in the repository
FOLDER = 'configs/fashion_mnist/'
DEMO = FOLDER + 'cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'
# budget -> method -> config. 'random-init' evaluates the config's backbone as
# initialised (seeded), 'raw-pixels' the preprocessed pixels: neither trains.
GRID = {
    'demo': {
        'raw-pixels': DEMO,
        'random-init': DEMO,
        'mocov2': FOLDER + 'mocov2_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'infonce': FOLDER + 'cgh-infonce_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'global': FOLDER + 'cgh-global_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'same': FOLDER + 'cgh-same_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'cross': DEMO,
        'cross-l234': FOLDER + 'cgh-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'infonce-l234': FOLDER + 'cgh-infonce-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
        'same-l234': FOLDER + 'cgh-same-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py',
    },
    '3x': {
        'cross': FOLDER + 'cgh_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py',
        'global': FOLDER + 'cgh-global_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py',
        'mocov2': FOLDER + 'mocov2_resnet18-narrow_1xb64-coslr-18e_fashion-mnist.py',
    },
}
# Where the study's configs were before they moved to FOLDER, with the same resolved
# contents. A record keeps the path its run was recorded with (what ran, at its commit);
# read back, it names the config's path today, so that `run` skips the runs recorded
# under the old path and `report` pools them with the new ones.
MOVED_CONFIGS = {
    'configs/cgh/cgh_resnet18_1xb64-fashion-mnist_demo.py': DEMO,
    'configs/mocov2/mocov2_resnet18-narrow_1xb64-6e_fashion-mnist.py': GRID['demo']['mocov2'],
    'configs/study/cgh-infonce_resnet18_1xb64-6e_fashion-mnist.py': GRID['demo']['infonce'],
    'configs/study/cgh-global_resnet18_1xb64-6e_fashion-mnist.py': GRID['demo']['global'],
    'configs/study/cgh-same_resnet18_1xb64-6e_fashion-mnist.py': GRID['demo']['same'],
    'configs/study/cgh-l234_resnet18_1xb64-6e_fashion-mnist.py': GRID['demo']['cross-l234'],
    'configs/study/cgh_resnet18_1xb64-18e_fashion-mnist.py': GRID['3x']['cross'],
    'configs/study/cgh-global_resnet18_1xb64-18e_fashion-mnist.py': GRID['3x']['global'],
    'configs/study/mocov2_resnet18-narrow_1xb64-18e_fashion-mnist.py': GRID['3x']['mocov2'],
}
KNN = dict(k=20, temperature=0.07)
# KNN as a record states it (its knn_* SETTINGS)
KNN_SETTINGS = {f'knn_{key}': value for key, value in KNN.items()}
# The evaluation settings a record states that change its numbers: runs that differ in
# one of them are never pooled. ``run`` knows all but the last before a run starts.
SETTINGS = ('memory_size', 'knn_k', 'knn_temperature', 'query_size')
REQUIRED = ('budget', 'method', 'seed', 'config', 'commit', 'knn_top1', 'linear_top1',
            'train_s') + SETTINGS


class ResultsFileError(ValueError):
    """A results file the study cannot read as it stands; the message names the line."""


def refusal(result: Dict[str, object]) -> Optional[str]:
    """Why ``result`` must not enter the results file, or None."""
    if result.get('smoke'):
        return f"a smoke run (--smoke-iters {result['smoke']}), not the config as written"
    if not result.get('finished'):
        return (f"unfinished: {result.get('iters')} of {result.get('max_iters')} iterations "
                'of its config')
    if not result.get('commit'):
        return 'commit unknown: the code was not a git checkout, so the run is not traceable'
    if result.get('dirty'):
        return (f"run from a checkout whose cgh_mm/, configs/ or tools/ differ from commit "
                f"{result['commit']}: commit first")
    return None


def moved(record_: object) -> object:
    """``record_`` with its config named by today's path (:data:`MOVED_CONFIGS`); anything
    else (not a record) as it is."""
    config = record_.get('config') if isinstance(record_, dict) else None
    if isinstance(config, str) and config in MOVED_CONFIGS:
        return dict(record_, config=MOVED_CONFIGS[config])
    return record_


def read_records(path: str) -> List[Tuple[int, Dict[str, object]]]:
    """``(line number, record)`` of every record of the results file, its config named by
    today's path (:func:`moved`); a line that is not a record is a
    :class:`ResultsFileError` naming the file, the line and the fix."""
    if not osp.isfile(path):
        return []
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record_ = json.loads(line)
            except json.JSONDecodeError as err:
                cut = '' if line.endswith('\n') else ', cut off: the file ends inside it'
                raise ResultsFileError(
                    f'{path}, line {number}: not a JSON record ({err.msg}, column '
                    f'{err.colno}{cut}): {line.strip()[:100]!r}. Repair or delete that line '
                    f'(`git diff -- {path}` shows what changed since the last commit); the '
                    'other lines are read as they are.') from None
            missing = [k for k in REQUIRED if k not in record_] if isinstance(
                record_, dict) else list(REQUIRED)
            if missing:
                raise ResultsFileError(
                    f'{path}, line {number}: a record needs {missing}, which it lacks. '
                    'Restore the line as study.py wrote it, or delete it.')
            records.append((number, moved(record_)))
    return records


def load_results(path: str) -> List[Dict[str, object]]:
    return [r for _, r in read_records(path)]


def run_key(result: Dict[str, object]) -> tuple:
    """What a run is: budget, method, seed, config and the evaluation :data:`SETTINGS`."""
    return (result['budget'], result['method'], result['seed'], result['config'],
            *(result[k] for k in SETTINGS))


def recorded_runs(path: str) -> Tuple[List[Dict[str, object]], List[str]]:
    """The recorded runs of ``path``, each once, and a note per run recorded more than once
    with the same numbers (counted once). A run recorded with different numbers
    is a :class:`ResultsFileError` naming its lines: the report cannot choose one."""
    lines: Dict[tuple, List[Tuple[int, Dict[str, object]]]] = defaultdict(list)
    for number, result in read_records(path):
        if refusal(result) is None:
            lines[run_key(result)].append((number, result))
    notes: List[str] = []
    conflicts: List[str] = []
    for key, items in lines.items():
        if len(items) > 1:
            numbers = ', '.join(str(n) for n, _ in items)
            label = f'{key[0]} {key[1]} seed {key[2]}'
            if len({(r['knn_top1'], r['linear_top1']) for _, r in items}) == 1:
                notes.append(f'{label} (lines {numbers})')
            else:
                conflicts.append(f'{label} (config {key[3]}) on lines {numbers}: kNN ' + ', '.join(
                    f"{r['knn_top1']:.2f} ({r['commit'][:10]})" for _, r in items))
    if conflicts:
        raise ResultsFileError(
            f'{path} records a run more than once with different results: '
            + '; '.join(conflicts) + '. A run counts once: keep the line of the run you '
            'trust (e.g. the earlier, the one the study declared) and delete the others.')
    return [items[0][1] for items in lines.values()], notes


def final_loaders(cfg, memory_size: int):
    """The final protocol's memory (the first ``memory_size`` images of the kNN monitor's
    memory set) and query (the whole val set) loaders of a config, as the demo builds them."""
    import copy

    from mmengine.runner import Runner
    memory_cfg = copy.deepcopy(cfg.val_cfg.memory_dataloader)
    memory_cfg.dataset.indices = memory_size
    query_cfg = copy.deepcopy(cfg.val_dataloader)
    query_cfg.dataset.pop('indices', None)
    return Runner.build_dataloader(memory_cfg), Runner.build_dataloader(query_cfg)


def knn_top1(memory: Tuple[Tensor, Tensor], query: Tuple[Tensor, Tensor],
             num_classes: int) -> float:
    """Weighted kNN top-1 (percent) of the final protocol, :data:`KNN`'s k and temperature:
    ``memory`` and ``query`` are ``(features (M, C), labels (M,))`` as
    :func:`~cgh_mm.evaluation.extract_features` returns them for :func:`final_loaders`."""
    return weighted_knn_accuracy(*memory, *query, num_classes=num_classes, ks=(KNN['k'], ),
                                 temperature=KNN['temperature'])[KNN['k']]


def mean_std(values: List[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f'{mean:.2f}'
    std = math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))
    return f'{mean:.2f} ± {std:.2f}'
