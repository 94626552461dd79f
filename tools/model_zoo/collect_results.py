"""Write the results of finished runs of model-zoo configs into the metafile and README.

Only a finished run (see ``final_metrics``) of exactly the metafile's config (see
``RUN_KEYS``) on its ``Batch Size`` is collected; anything else is refused with the
reasons. README tables between ``<!-- results:TABLE:start/end -->`` markers are rendered
from the metafile. Writes are atomic.
"""
import argparse
import fnmatch
import glob
import os.path as osp
import re
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml
from mmengine.config import Config

from cgh_mm.runtime import load_checkpoint_safely, write_file_atomically
from cgh_mm.runtime.resume_config import flat_items

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Config keys that differ per run without changing what is measured: where the run
# writes and its name, its log backends (--tensorboard), the launcher and what it resumes
# from, the backbone file the benchmark scripts convert, and the process group
# tools/train.py sets for CPU runs. --amp is allowed too, and recorded with the hardware.
RUN_KEYS = ('work_dir', 'experiment_name', 'visualizer*', 'launcher', 'load_from', 'resume',
            '*init_cfg.checkpoint', 'env_cfg.dist_cfg*', 'model_wrapper_cfg*')

# Metric keys of mmpretrain / mmdet / mmseg evaluators -> (task, metafile metric name).
METRIC_NAMES = {
    'accuracy/top1': ('Image Classification', 'Top 1 Accuracy'),
    'accuracy/top5': ('Image Classification', 'Top 5 Accuracy'),
    'knn/top1': ('kNN Classification', 'kNN Top 1 Accuracy'),
    **{f'coco/{iou}_mAP{suffix}': (task, f'{short} AP{suffix[1:]}')
       for iou, task, short in (('bbox', 'Object Detection', 'box'),
                                ('segm', 'Instance Segmentation', 'mask'))
       for suffix in ('', '_50', '_75')},
    **{f'pascal_voc/{key}': ('Object Detection', key[1:] if key == 'mAP' else key)
       for key in ('mAP', 'AP50', 'AP75')},
    **{key: ('Semantic Segmentation', key) for key in ('mIoU', 'mAcc', 'aAcc')},
}
PRETRAIN_TASK, KNN_TASK = 'Self-Supervised Pre-training', 'kNN Classification'

_LOG_LINE = re.compile(r'(?:Epoch|Iter)\((train|val|test)\)\s+(?:\[\d+\])?\[\s*\d+/\d+\]\s+(.*)$',
                       re.MULTILINE)
_ITEM = re.compile(r'(\S+): (-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)(?=\s|$)')
_SAVED = re.compile(r'Saving checkpoint at (\d+) (epochs|iterations)')
_GPU_LINE = re.compile(r'^\s*GPU ([\d,]+): (.+?)\s*$', re.MULTILINE)
_WORLD_LINE = re.compile(r'^\s*GPU number: (\d+)\s*$', re.MULTILINE)


def final_metrics(log_text: str, cfg: Dict[str, Any]) -> Tuple[str, Dict[str, float]]:
    """``(kind, metrics)`` of a finished run: ``'test'`` metrics of the checkpoint that ends
    the schedule, else ``'val'`` metrics logged after "Saving checkpoint" of the last
    epoch/iteration, else the last ``'train'`` loss of a run that logged that checkpoint;
    else a ValueError ``unfinished: ...`` naming what is missing."""
    # (mode, numeric items but mmengine's timings, offset) of every Epoch|Iter(...) line
    records = [(line.group(1), {k: float(v) for k, v in _ITEM.findall(line.group(2))
                                if k not in ('time', 'data_time', 'memory')}, line.start())
               for line in _LOG_LINE.finditer(log_text)]
    train_cfg = cfg.get('train_cfg') or {}
    unit = 'epoch' if 'max_epochs' in train_cfg else 'iter'
    last = train_cfg.get(f'max_{unit}s')
    tests = [m for mode, m, _ in records if mode == 'test' and m]
    if tests:  # a test run: of the checkpoint that ends the schedule
        tested = (load_checkpoint_safely(cfg['load_from']).get('meta') or {}).get(unit)
        if tested != last:
            raise ValueError(f'unfinished: the tested checkpoint {cfg["load_from"]} is from '
                             f'{unit} {tested}, the schedule ends at {last}.')
        return 'test', tests[-1]
    unit = 'epochs' if unit == 'epoch' else 'iterations'
    saved = [m.start() for m in _SAVED.finditer(log_text) if m.groups() == (str(last), unit)]
    if not saved:
        raise ValueError(f'unfinished: the log has no "Saving checkpoint at {last} {unit}", '
                         f'the end of the schedule (train_cfg {dict(train_cfg)}).')
    if any(mode == 'val' and m for mode, m, _ in records):
        after = [m for mode, m, at in records if mode == 'val' and m and at > saved[-1]]
        if not after:
            raise ValueError('unfinished: no evaluation logged after "Saving checkpoint at '
                             f'{last} {unit}", the end of the schedule.')
        return 'val', after[-1]
    losses = [m['loss'] for mode, m, _ in records if mode == 'train' and 'loss' in m]
    if not losses:
        raise ValueError('the log has no evaluation and no training loss to collect.')
    return 'train', {'loss': losses[-1]}


def config_differences(zoo: Dict[str, Any], run: Dict[str, Any]) -> List[str]:
    """``'key: zoo value -> run value'`` for every key outside ``RUN_KEYS`` that differs."""
    zoo_items, run_items = dict(flat_items(zoo)), dict(flat_items(run))
    values = {key: (zoo_items.get(key, '(absent)'), run_items.get(key, '(absent)'))
              for key in sorted(set(zoo_items) | set(run_items))}
    return [f'{key}: {a!r} -> {b!r}' for key, (a, b) in values.items() if a != b
            and not any(fnmatch.fnmatchcase(key, pattern) for pattern in RUN_KEYS)]


def hardware_from_log(log_text: str) -> str:
    """``'8x NVIDIA A100-SXM4-80GB'`` or ``'CPU, 2 processes'`` from the log header."""
    world = _WORLD_LINE.search(log_text)
    processes = int(world.group(1)) if world else 1
    gpus = _GPU_LINE.findall(log_text)
    if 'CUDA available: True' in log_text and gpus:
        return f'{processes}x ' + ', '.join(name for _, name in gpus)
    return f'CPU, {processes} process' + ('es' if processes > 1 else '')


def results_from_metrics(kind: str, metrics: Dict[str, float], dataset: str,
                         knn_k: Optional[int] = None) -> List[Dict[str, Any]]:
    """Metafile ``Results`` (Task, Dataset, Metrics), one per task, rounded to 4 decimals
    as mmengine prints them; kNN accuracy names its k."""
    by_task: Dict[str, Dict[str, float]] = {}
    for key, value in metrics.items():
        task, name = (PRETRAIN_TASK, 'Final Loss') if kind == 'train' else \
            METRIC_NAMES.get(key, (None, None))
        if task == KNN_TASK and knn_k:
            name += f' (k={knn_k})'
        if task:
            by_task.setdefault(task, {})[name] = round(value, 4)
    if not by_task:
        raise ValueError(f'none of the metrics {sorted(metrics)} is known to the model zoo; known: '
                         f'{sorted(METRIC_NAMES)}. Add the key to METRIC_NAMES in '
                         'tools/model_zoo/collect_results.py.')
    return [dict(Task=task, Dataset=dataset, Metrics=values)
            for task, values in by_task.items()]


def find_model(metafile: Dict[str, Any], name: str) -> Dict[str, Any]:
    models = metafile.get('Models') or []
    model = next((m for m in models if m.get('Name') == name), None)
    if model is None:
        raise KeyError(f'the metafile has no model named {name!r} (it has '
                       f'{[m.get("Name") for m in models]}); add an entry whose Name is the '
                       'config stem, or pass --name.')
    return model


def collect_run(work_dir: str, metafile: Dict[str, Any], name: Optional[str] = None,
                hardware: Optional[str] = None,
                root: Optional[str] = None) -> Tuple[str, List[Dict[str, Any]]]:
    """``(model name, Results with their Source)`` of the newest run of ``work_dir``, or a
    ValueError naming every reason it is not a finished run of its zoo config (metafile
    ``Config`` paths are relative to ``root``, default: this repository)."""
    logs = sorted(glob.glob(osp.join(work_dir, '[0-9]*_[0-9]*', '*.log')))
    dumped = glob.glob(osp.join(work_dir, '*.py'))
    if not logs or len(dumped) != 1:
        raise FileNotFoundError(
            f'{work_dir!r} is not a work dir of one config: expected its config copy '
            f'(found {dumped}) and <YYYYMMDD_HHMMSS>/*.log, as mmengine writes them.')
    log_text = Path(logs[-1]).read_text(errors='replace')
    model = find_model(metafile, name or osp.splitext(osp.basename(dumped[0]))[0])
    run = Config.fromfile(dumped[0], import_custom_modules=False).to_dict()
    zoo = Config.fromfile(osp.join(root or ROOT, model['Config']), import_custom_modules=False)
    amp = (run.get('optim_wrapper') or {}).get('type') == 'AmpOptimWrapper' != \
        (zoo.get('optim_wrapper') or {}).get('type')
    if amp:
        run['optim_wrapper'] = dict(run['optim_wrapper'], type=zoo.optim_wrapper.type)
        run['optim_wrapper'].pop('loss_scale', None)
    problems = [f'differs from {model["Config"]}: {d}'
                for d in config_differences(zoo.to_dict(), run)]
    kind = None
    try:
        kind, metrics = final_metrics(log_text, run)
    except ValueError as err:
        problems.append(str(err))
    world = _WORLD_LINE.search(log_text)
    batch = int(world.group(1) if world else 1) * (run.get('train_dataloader') or {}).get(
        'batch_size', 0)
    expected = (model.get('Metadata') or {}).get('Batch Size')
    if kind != 'test' and expected and batch != expected:  # a test may run on any count
        problems.append(f'global batch {batch} (processes x train_dataloader.batch_size), '
                        f'the metafile states {expected}')
    stamp = osp.basename(osp.dirname(logs[-1]))
    if problems:
        raise ValueError(f'not collected: {work_dir} (run {stamp}) is not a finished run '
                         f'of {model["Config"]}:\n  - ' + '\n  - '.join(problems))
    source = dict(Config=osp.basename(model['Config']),
                  Hardware=(hardware or hardware_from_log(log_text)) + (', AMP' if amp else ''),
                  Date=f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}', Measured='with cgh-mm',
                  Evaluation=dict(test='test set', val='validation set',
                                  train='last logged training iteration')[kind])
    data_key = 'Training Data' if kind == 'train' else 'Evaluation Data'
    dataset = (model.get('Metadata') or {}).get(data_key)
    if not dataset:
        raise KeyError(f'the metafile entry {model["Name"]} needs Metadata: {data_key} to name '
                       'the dataset of its result.')
    evaluator = run.get('val_evaluator')
    results = results_from_metrics(kind, metrics, dataset,
                                   evaluator.get('k') if isinstance(evaluator, dict) else None)
    return model['Name'], [dict(result, Source=source) for result in results]


def update_metafile(metafile: Dict[str, Any], name: str, results: List[Dict[str, Any]]) -> None:
    """Put ``results`` into the model ``name``, replacing those of the same task and dataset."""
    model = find_model(metafile, name)
    model['Results'] = [r for r in model.get('Results') or [] if not any(
        (r.get('Task'), r.get('Dataset')) == (n['Task'], n['Dataset']) for n in results)
    ] + list(results)


def in_table(model: Dict[str, Any], table: str) -> bool:
    """Whether ``model`` has a row in ``table``: the table its ``Metadata.Benchmark`` names;
    the ``knn`` table also lists the models with kNN results and the pretraining models
    with a kNN monitor (``Evaluation Data``)."""
    meta = model.get('Metadata') or {}
    if table == 'knn':
        return any(r.get('Task') == KNN_TASK for r in model.get('Results') or []) or \
            meta.get('Benchmark') == 'pretraining' and bool(meta.get('Evaluation Data'))
    return meta.get('Benchmark') == table


def render_table(metafile: Dict[str, Any], table: str) -> str:
    """Markdown table of the models :func:`in_table` puts in ``table``, with the results
    of its kind (kNN results in ``knn``, the others in the model's benchmark table) or
    "not yet measured". The Dataset column is what the results were measured on."""
    rows, data_key = [], 'Training Data' if table == 'pretraining' else 'Evaluation Data'
    for model in metafile.get('Models') or []:
        if in_table(model, table):
            results = [r for r in model.get('Results') or []
                       if (r.get('Task') == KNN_TASK) == (table == 'knn')]
            rows.append((model, model.get('Metadata') or {}, results))
    columns = list(dict.fromkeys(c for *_, rs in rows for r in rs for c in r['Metrics']))
    header = ['Model', 'Dataset'] + (columns or ['Result']) + ['Source']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + ' --- |' * len(header)]
    for model, meta, results in rows:
        metrics = {k: v for r in results for k, v in r['Metrics'].items()}
        cells = [f'{metrics[c]:.4g}' if c in metrics else
                 '—' if results else 'not yet measured' for c in columns or ['Result']]
        # results of different runs (a later evaluation of part of the metrics) each
        # name the run they come from
        sources: Dict[str, List[str]] = {}
        for r in results:
            sources.setdefault('measured with cgh-mm, {Hardware}, {Date}, {Evaluation}'.format(
                **r['Source']), []).extend(r['Metrics'])
        source = '; '.join(text if len(sources) == 1 else f"{', '.join(names)}: {text}"
                           for text, names in sources.items()) or '—'
        dataset = ', '.join(dict.fromkeys(r['Dataset'] for r in results)) or meta.get(data_key, '—')
        link = f"[{model['Name']}](../../{model['Config']})"
        lines.append('| ' + ' | '.join([link, dataset] + cells + [source]) + ' |')
    if not rows:
        lines.append('| ' + ' | '.join(['not yet measured'] + ['—'] * (len(header) - 1)) + ' |')
    return '\n'.join(lines)


_MARKERS = re.compile(r'(<!-- results:([\w-]+):start -->\n)(.*?)(<!-- results:\2:end -->)',
                      re.DOTALL)


def update_readme(text: str, metafile: Dict[str, Any]) -> str:
    """``text`` with the content of every results marker pair rendered again."""
    tables = [m.group(2) for m in _MARKERS.finditer(text)]
    if not tables:
        raise ValueError('the README has no <!-- results:TABLE:start --> ... '
                         '<!-- results:TABLE:end --> markers to fill.')
    homeless = [f"{m.get('Name')} (Benchmark: {(m.get('Metadata') or {}).get('Benchmark')!r})"
                for m in metafile.get('Models') or []
                if not any(in_table(m, t) for t in tables if t != 'knn')]
    if homeless:
        raise ValueError(f"no README table would show {', '.join(homeless)}: the README's "
                         f'tables are {tables}. Set Metadata: Benchmark of each to one of '
                         'them, or add a <!-- results:NAME:start/end --> pair for it.')
    return _MARKERS.sub(
        lambda m: m.group(1) + render_table(metafile, m.group(2)) + '\n' + m.group(4), text)


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('work_dirs', nargs='+', help='work dirs of finished runs')
    parser.add_argument('--metafile', default=osp.join(ROOT, 'configs/cgh/metafile.yml'))
    parser.add_argument('--readme', default=osp.join(ROOT, 'configs/cgh/README.md'))
    parser.add_argument('--name', help='model name (default: the config stem); one work dir')
    parser.add_argument('--hardware', help='hardware to record (default: from the log)')
    args = parser.parse_args(argv)
    if args.name and len(args.work_dirs) > 1:
        parser.error('--name applies to one work dir; run the tool once per run.')
    metafile = yaml.safe_load(Path(args.metafile).read_text())
    for work_dir in args.work_dirs:
        name, results = collect_run(work_dir, metafile, args.name, args.hardware)
        update_metafile(metafile, name, results)
        for result in results:
            print(f"{name}: {result['Task']} on {result['Dataset']}: {result['Metrics']} "
                  f"({result['Source']['Hardware']}, {result['Source']['Date']})")
    readme = update_readme(Path(args.readme).read_text(), metafile)
    write_file_atomically(
        args.metafile, yaml.safe_dump(metafile, sort_keys=False, allow_unicode=True).encode())
    write_file_atomically(args.readme, readme.encode())
    print(f'updated {args.metafile} and {args.readme}')


if __name__ == '__main__':
    try:
        main()
    except (OSError, KeyError, ValueError) as err:  # refusals and bad input: no traceback
        raise SystemExit(f'collect_results: {err}') from None
