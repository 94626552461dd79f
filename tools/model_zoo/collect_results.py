"""Write the results of finished runs into the model zoo: metafile and README tables.

    python tools/model_zoo/collect_results.py WORK_DIR [WORK_DIR ...] \
        [--metafile configs/cgh/metafile.yml] [--readme configs/cgh/README.md] \
        [--name MODEL_NAME] [--hardware "8x NVIDIA A100-SXM4-80GB"]

For each work dir (what ``tools/train.py`` or ``tools/test.py`` wrote), the newest
run folder ``<work_dir>/<YYYYMMDD_HHMMSS>/`` is read:

* the final metrics: the last ``Epoch(test)`` / ``Iter(test)`` line of the run's
  ``.log`` if there is one, else the last evaluation record of
  ``vis_data/scalars.json``, else (a pretraining run without evaluation) the last
  logged training ``loss``, window-averaged as mmengine logs it;
* the model name: the config stem, from the config file mmengine copies into the
  work dir (``--name`` overrides it); it must equal a ``Name`` in the metafile;
* the hardware: GPU count and name from the log's environment header (``--hardware``
  overrides it) and the date: the run folder's timestamp.

The metrics become ``Results`` of that model in the metafile, each with a
``Source`` giving config, hardware and date; then every README table between
``<!-- results:TABLE:start -->`` and ``<!-- results:TABLE:end -->`` is rendered
again from the metafile, so the tables never hold a number the metafile lacks.
Files are replaced atomically.
"""
import argparse
import glob
import json
import os.path as osp
import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_METAFILE = osp.join(ROOT, 'configs', 'cgh', 'metafile.yml')
DEFAULT_README = osp.join(ROOT, 'configs', 'cgh', 'README.md')

# mmengine's bookkeeping scalars: logged next to the metrics, never results.
NON_METRIC_KEYS = {'time', 'data_time', 'step', 'epoch', 'iter', 'lr', 'base_lr', 'memory'}

# Metric keys of mmpretrain / mmdet / mmseg evaluators -> (task, metafile metric name).
METRIC_NAMES = {
    'accuracy/top1': ('Image Classification', 'Top 1 Accuracy'),
    'accuracy/top5': ('Image Classification', 'Top 5 Accuracy'),
    'coco/bbox_mAP': ('Object Detection', 'box AP'),
    'coco/bbox_mAP_50': ('Object Detection', 'box AP50'),
    'coco/bbox_mAP_75': ('Object Detection', 'box AP75'),
    'coco/segm_mAP': ('Instance Segmentation', 'mask AP'),
    'coco/segm_mAP_50': ('Instance Segmentation', 'mask AP50'),
    'coco/segm_mAP_75': ('Instance Segmentation', 'mask AP75'),
    'pascal_voc/mAP': ('Object Detection', 'AP'),
    'pascal_voc/AP50': ('Object Detection', 'AP50'),
    'pascal_voc/AP75': ('Object Detection', 'AP75'),
    'mIoU': ('Semantic Segmentation', 'mIoU'),
    'knn/top1': ('kNN Classification', 'kNN Top 1 Accuracy'),
    'mAcc': ('Semantic Segmentation', 'mAcc'),
    'aAcc': ('Semantic Segmentation', 'aAcc'),
}
PRETRAIN_TASK = 'Self-Supervised Pre-training'
KNN_TASK = METRIC_NAMES['knn/top1'][0]

# Dataset types of the configs -> the dataset names papers and model zoos use.
DATASET_NAMES = {
    'ImageNet': 'ImageNet-1k',
    'CocoDataset': 'COCO',
    'VOCDataset': 'PASCAL VOC 2007',
    'PascalVOCDataset': 'PASCAL VOC 2012 + aug',
    'CityscapesDataset': 'Cityscapes',
    'CIFAR10': 'CIFAR-10',
    'CIFAR100': 'CIFAR-100',
    'STL10': 'STL-10',
    'SyntheticImageDataset': 'Synthetic images',
}

_RUN_DIR = re.compile(r'\d{8}_\d{6}')
_EVAL_LINE = re.compile(r'(?:Epoch|Iter)\((val|test)\)\s+(?:\[\d+\])?\[\s*\d+/\d+\]\s+(.*)$')
_GPU_LINE = re.compile(r'^\s*GPU ([\d,]+): (.+?)\s*$', re.MULTILINE)
_WORLD_LINE = re.compile(r'^\s*GPU number: (\d+)\s*$', re.MULTILINE)
_CUDA_LINE = re.compile(r'^\s*CUDA available: (True|False)\s*$', re.MULTILINE)


def latest_run_dir(work_dir: str) -> str:
    """The newest ``<work_dir>/<YYYYMMDD_HHMMSS>`` folder holding a log or scalars."""
    runs = sorted(d for d in glob.glob(osp.join(work_dir, '*'))
                  if osp.isdir(d) and _RUN_DIR.fullmatch(osp.basename(d))
                  and (glob.glob(osp.join(d, '*.log'))
                       or osp.isfile(osp.join(d, 'vis_data', 'scalars.json'))))
    if not runs:
        raise FileNotFoundError(
            f'{work_dir!r} holds no finished run: expected a folder '
            '<YYYYMMDD_HHMMSS>/ with a .log or vis_data/scalars.json, as mmengine '
            'writes. Give the --work-dir of a training or test run.')
    return runs[-1]


def read_scalars(path: str) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """``(training records, evaluation records)`` of an mmengine ``scalars.json``.

    Each line is one JSON record; training records carry the iteration counter
    (``iter``) and learning rate, evaluation records do not.
    """
    train, evaluation = [], []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f'{path}:{number} is not a JSON record ({err}); is the '
                                 'file an mmengine vis_data/scalars.json?') from err
            is_train = 'iter' in record or 'lr' in record
            (train if is_train else evaluation).append(record)
    return train, evaluation


def read_log_metrics(path: str) -> List[Tuple[str, Dict[str, float]]]:
    """``(mode, {metric: value})`` of every ``Epoch(val|test)`` line of an mmengine log."""
    found = []
    with open(path, errors='replace') as f:
        for line in f:
            match = _EVAL_LINE.search(line.rstrip('\n'))
            if not match:
                continue
            metrics = {}
            for item in re.split(r'\s{2,}', match.group(2).strip()):
                key, sep, value = item.partition(': ')
                if sep:
                    try:
                        metrics[key.strip()] = float(value)
                    except ValueError:
                        continue  # non-scalar items (per-class tables) are not results
            found.append((match.group(1), metrics))
    return found


def metric_values(record: Dict[str, Any]) -> Dict[str, float]:
    """The numeric metrics of a record, bookkeeping scalars removed."""
    return {k: float(v) for k, v in record.items()
            if k not in NON_METRIC_KEYS and isinstance(v, (int, float))
            and not isinstance(v, bool)}


def final_metrics(run_dir: str) -> Tuple[str, Dict[str, float]]:
    """``(kind, metrics)`` of a run: kind is ``'test'``, ``'val'`` or ``'train'``."""
    logs = sorted(glob.glob(osp.join(run_dir, '*.log')))
    log_records = read_log_metrics(logs[-1]) if logs else []
    tests = [m for mode, m in log_records if mode == 'test' and metric_values(m)]
    if tests:
        return 'test', metric_values(tests[-1])
    scalars = osp.join(run_dir, 'vis_data', 'scalars.json')
    train, evaluation = read_scalars(scalars) if osp.isfile(scalars) else ([], [])
    evaluation = [r for r in evaluation if metric_values(r)]
    if evaluation:
        return 'val', metric_values(evaluation[-1])
    vals = [m for mode, m in log_records if mode == 'val' and metric_values(m)]
    if vals:
        return 'val', metric_values(vals[-1])
    losses = [r for r in train if 'loss' in r]
    if losses:
        return 'train', {'loss': float(losses[-1]['loss'])}
    raise ValueError(
        f'{run_dir!r} has no test, validation or training-loss record: did the run '
        'finish (at least one logged iteration)?')


def results_from_metrics(kind: str, metrics: Dict[str, float],
                         dataset: str) -> List[Dict[str, Any]]:
    """Metafile ``Results`` entries (Task, Dataset, Metrics), one per task.

    Values are rounded to 4 decimals: what mmengine prints, and more than any
    benchmark resolves.
    """
    by_task: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        if kind == 'train':
            task, name = PRETRAIN_TASK, 'Final Loss'
        elif key in METRIC_NAMES:
            task, name = METRIC_NAMES[key]
        elif 'knn' in key.lower():
            task, name = KNN_TASK, key
        else:
            continue
        by_task.setdefault(task, {})[name] = round(value, 4)
    if not by_task:
        raise ValueError(
            f'none of the metrics {sorted(metrics)} is known to the model zoo; known: '
            f'{sorted(METRIC_NAMES)} and any key containing "knn". Add the key to '
            'METRIC_NAMES in tools/model_zoo/collect_results.py.')
    return [dict(Task=task, Dataset=dataset, Metrics=values)
            for task, values in by_task.items()]


def hardware_from_log(log_text: str) -> str:
    """``'8x NVIDIA A100-SXM4-80GB'`` or ``'CPU, 2 processes'`` from the log header."""
    world = _WORLD_LINE.search(log_text)
    processes = int(world.group(1)) if world else 1
    cuda = _CUDA_LINE.search(log_text)
    gpus = _GPU_LINE.findall(log_text)
    if cuda and cuda.group(1) == 'True' and gpus:
        names = ', '.join(name for _, name in gpus)
        return f'{processes}x {names}'
    return f'CPU, {processes} process' + ('es' if processes > 1 else '')


def dataset_type(cfg: Dict[str, Any], kind: str) -> Optional[str]:
    """The dataset ``type`` of the dataloader that produced ``kind`` metrics."""
    loader_key = dict(test='test_dataloader', val='val_dataloader',
                      train='train_dataloader')[kind]
    dataset = (cfg.get(loader_key) or {}).get('dataset')
    # unwrap ConcatDataset / RepeatDataset / ClassBalancedDataset
    while isinstance(dataset, dict) and dataset.get('type') not in DATASET_NAMES:
        inner = dataset.get('dataset') or (dataset.get('datasets') or [None])[0]
        if inner is None:
            break
        dataset = inner
    return dataset.get('type') if isinstance(dataset, dict) else None


def find_config(work_dir: str, run_dir: str) -> str:
    """The config copy mmengine dumps into the work dir (``<config stem>.py``)."""
    dumped = sorted(glob.glob(osp.join(work_dir, '*.py')))
    if len(dumped) == 1:
        return dumped[0]
    in_run = osp.join(run_dir, 'vis_data', 'config.py')
    if not dumped and osp.isfile(in_run):
        return in_run
    raise FileNotFoundError(
        f'cannot tell the config of {work_dir!r}: found {len(dumped)} config copies '
        f'({[osp.basename(p) for p in dumped]}); pass --name with the model name.')


def collect_run(work_dir: str, name: Optional[str] = None,
                hardware: Optional[str] = None) -> Tuple[str, List[Dict[str, Any]]]:
    """``(model name, Results entries with their Source)`` of a work dir's newest run."""
    from mmengine.config import Config

    run_dir = latest_run_dir(work_dir)
    config_path = find_config(work_dir, run_dir)
    if name is None:
        name = osp.splitext(osp.basename(config_path))[0]
    cfg = Config.fromfile(config_path, import_custom_modules=False)
    kind, metrics = final_metrics(run_dir)
    dtype = dataset_type(cfg, kind)
    dataset = DATASET_NAMES.get(dtype, dtype or 'unknown')
    logs = sorted(glob.glob(osp.join(run_dir, '*.log')))
    if hardware is None:
        if not logs:
            raise FileNotFoundError(f'{run_dir!r} has no .log to read the hardware from; '
                                    'pass --hardware.')
        with open(logs[-1], errors='replace') as f:
            hardware = hardware_from_log(f.read())
    stamp = osp.basename(run_dir)
    source = dict(Config=f'{name}.py', Hardware=hardware,
                  Date=f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}',
                  Evaluation=dict(test='test set', val='validation set',
                                  train='last logged training iteration')[kind])
    results = results_from_metrics(kind, metrics, dataset)
    for result in results:
        result['Source'] = dict(source, Measured='with cgh-mm')
    return name, results


def update_metafile(metafile: Dict[str, Any], name: str,
                    results: Sequence[Dict[str, Any]]) -> None:
    """Put ``results`` into the model ``name``, replacing those of the same task and dataset."""
    models = metafile.get('Models') or []
    model = next((m for m in models if m.get('Name') == name), None)
    if model is None:
        raise KeyError(
            f'the metafile has no model named {name!r} (it has '
            f'{[m.get("Name") for m in models]}); add an entry whose Name is the '
            'config stem, or pass --name.')
    kept = [r for r in (model.get('Results') or [])
            if not any(r.get('Task') == n['Task'] and r.get('Dataset') == n['Dataset']
                       for n in results)]
    model['Results'] = kept + list(results)


def table_of(model: Dict[str, Any], result: Dict[str, Any]) -> Optional[str]:
    """README table a result belongs to: kNN results go to ``knn`` whatever the model."""
    if result.get('Task') == KNN_TASK:
        return 'knn'
    return (model.get('Metadata') or {}).get('Benchmark')


def render_table(metafile: Dict[str, Any], table: str) -> str:
    """Markdown table of every model of ``table`` with its measured numbers or
    "not yet measured"."""
    rows = []
    for model in metafile.get('Models') or []:
        benchmark = (model.get('Metadata') or {}).get('Benchmark')
        results = [r for r in (model.get('Results') or []) if table_of(model, r) == table]
        listed = benchmark == table or (table == 'knn' and benchmark == 'pretraining')
        if listed or results:
            rows.append((model, results))
    columns: List[str] = []
    for _, results in rows:
        for result in results:
            columns += [m for m in result['Metrics'] if m not in columns]
    header = ['Model', 'Dataset'] + (columns or ['Result']) + ['Source']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for model, results in rows:
        link = f"[{model['Name']}](../../{model['Config']})" if model.get('Config') \
            else model['Name']
        if not results:
            cells = ['not yet measured'] * max(1, len(columns))
            data = (model.get('Metadata') or {}).get('Training Data', '—')
            lines.append('| ' + ' | '.join([link, data] + cells + ['—']) + ' |')
            continue
        metrics: Dict[str, Any] = {}
        for result in results:
            metrics.update(result['Metrics'])
        src = results[-1].get('Source') or {}
        source = (f"measured with cgh-mm, {src.get('Hardware', '?')}, "
                  f"{src.get('Date', '?')}, {src.get('Evaluation', '?')}")
        cells = [f'{metrics[c]:.4g}' if isinstance(metrics.get(c), float) else
                 str(metrics.get(c, '—')) for c in (columns or ['Result'])]
        dataset = ', '.join(dict.fromkeys(r['Dataset'] for r in results))
        lines.append('| ' + ' | '.join([link, dataset] + cells + [source]) + ' |')
    if not rows:
        lines.append('| ' + ' | '.join(['not yet measured'] + ['—'] * (len(header) - 1))
                     + ' |')
    return '\n'.join(lines)


_MARKERS = re.compile(r'(<!-- results:([\w-]+):start -->\n)(.*?)(<!-- results:\2:end -->)',
                      re.DOTALL)


def update_readme(text: str, metafile: Dict[str, Any]) -> str:
    """``text`` with the content of every results marker pair rendered again."""
    if not _MARKERS.search(text):
        raise ValueError('the README has no <!-- results:TABLE:start --> ... '
                         '<!-- results:TABLE:end --> markers to fill.')
    return _MARKERS.sub(
        lambda m: m.group(1) + render_table(metafile, m.group(2)) + '\n' + m.group(4), text)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', help='work dirs of finished runs')
    parser.add_argument('--metafile', default=DEFAULT_METAFILE)
    parser.add_argument('--readme', default=DEFAULT_README)
    parser.add_argument('--name', help='model name (default: the config stem); only '
                        'with a single work dir')
    parser.add_argument('--hardware', help='hardware to record (default: from the log)')
    args = parser.parse_args(argv)
    if args.name and len(args.work_dirs) > 1:
        parser.error('--name applies to one work dir; run the tool once per run.')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    from cgh_mm.utils.checkpoint import write_file_atomically

    args = parse_args(argv)
    with open(args.metafile) as f:
        metafile = yaml.safe_load(f)
    for work_dir in args.work_dirs:
        name, results = collect_run(work_dir, name=args.name, hardware=args.hardware)
        update_metafile(metafile, name, results)
        for result in results:
            print(f"{name}: {result['Task']} on {result['Dataset']}: {result['Metrics']} "
                  f"({result['Source']['Hardware']}, {result['Source']['Date']})")
    with open(args.readme) as f:
        readme = f.read()
    write_file_atomically(
        args.metafile, yaml.safe_dump(metafile, sort_keys=False, allow_unicode=True).encode())
    write_file_atomically(args.readme, update_readme(readme, metafile).encode())
    print(f'updated {args.metafile} and {args.readme}')


if __name__ == '__main__':
    main()
