"""Plot a CGH run from mmengine's ``vis_data/scalars.json`` (LocalVisBackend): its loss
terms and warm-up, its health metrics and its online kNN top-1.

Each line of that file is one JSON record, split as mmpretrain's ``load_json_log`` does:
train records carry the logged scalars (``loss_*``, ``alpha``, ``health/*``, ``lr``) with
``step`` = iteration; validation records carry the metrics (``knn/top1``) with ``step`` =
epoch. Every start of a run writes its own ``<timestamp>/vis_data/scalars.json``: given a
work dir, the plots show its latest run whole, the parts of a resumed run joined (see
:func:`load_run`), and say which parts they drew. ``tools/demo.py`` and ``study.py``
import it as ``training_curves``.

    python tools/analysis/training_curves.py WORK_DIR [--out-dir DIR]
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

# Figure objects, not pyplot: no backend is chosen or switched (the user's stays as it
# is), and nothing is kept in pyplot's figure list after the caller drops the figure.
from matplotlib.figure import Figure

LOSS_TERMS = ('loss_nce', 'loss_hyper', 'loss_global')
# panel title -> (health key, label) pairs, as CrossContextHead logs them
HEALTH_PANELS = {
    'target entropy / ln K (1 = flat, no signal)': (
        ('health/hyper_target_entropy', 'loss_hyper target (teacher global)'),
        ('health/global_target_entropy', 'loss_global target (teacher hypercolumn)')),
    'KL part of the loss (nats; 0 = nothing to learn)': (
        ('health/hyper_kl', 'loss_hyper'), ('health/global_kl', 'loss_global')),
    'mean cosine between images of a batch (1 = collapsed)': (
        ('health/student_global_cos', 'student global'),
        ('health/student_hyper_cos', 'student hypercolumn'),
        ('health/teacher_global_cos', 'teacher global'),
        ('health/teacher_hyper_cos', 'teacher hypercolumn')),
}


def find_scalars_file(work_dir: str) -> str:
    """The newest ``<work_dir>/<timestamp>/vis_data/scalars.json``."""
    candidates = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')),
                        key=osp.getmtime)
    if not candidates:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: train with '
            "`vis_backends=[dict(type='LocalVisBackend')]` (default_runtime.py) first.")
    return candidates[-1]


def read_scalars(path: str) -> List[Dict]:
    """The records of one ``scalars.json`` in file order. A last line without its line
    end (a run killed while writing it) is left out; any other line that is not a record
    is a ValueError naming the file and the line."""
    with open(path) as f:
        lines = f.read().split('\n')
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as err:
            if number == len(lines):  # cut off, and nothing was written after it
                continue
            raise ValueError(f'{path}, line {number}: not a JSON record ({err.msg}); '
                             'mmengine writes one per line: repair or delete it.') from None
    return records


def split_records(records: Sequence[Dict]) -> Dict[str, List[Dict]]:
    """``{'train': [...], 'val': [...]}``, told apart as ``load_json_log`` does (``lr``)."""
    return dict(train=[r for r in records if 'lr' in r],
                val=[r for r in records if 'lr' not in r])


_STAMP = re.compile(r'\d{8}_\d{6}')
_RESUMED = re.compile(r'resumed epoch: \d+, iter: (\d+)')


def load_run(work_dir: str) -> Tuple[Dict[str, List[Dict]], List[str]]:
    """The records of the latest run of ``work_dir`` and what they were drawn from.

    A resumed run is in several ``<timestamp>/vis_data/scalars.json`` files, one per
    start. Starting from the newest with training records, an older part is joined
    while the newer one continues it: its log says ``resumed ... iter: N`` (mmengine's
    INFO line), or, where the log does not say, its first logged iteration comes later
    than the older part's first. Of the older part only what was logged before the
    iteration the newer one resumed from is kept: training it did after that checkpoint
    was redone. A newer part that starts from the beginning is a new run: older parts
    are not joined. Returns ``(split_records(...), one line per part)``."""
    parts = []
    for path in glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        stamp = osp.basename(osp.dirname(osp.dirname(path)))
        parts.append((stamp, path, read_scalars(path)))
    if not parts:
        find_scalars_file(work_dir)  # its error names what is missing and the fix
    # timestamps order the starts (a copied work dir keeps its names, not its mtimes)
    parts.sort(key=lambda p: (p[0] if _STAMP.fullmatch(p[0]) else '', osp.getmtime(p[1])))
    trained = [p for p in parts if any('lr' in r for r in p[2])]
    notes = [f'{p[0]}: skipped, no training records (a test run, or a start stopped before '
             'its first log line)' for p in parts if p not in trained]
    if not trained:  # e.g. only evaluations: the newest file as it is
        return split_records(parts[-1][2]), notes

    def first_step(records):
        return min(r['step'] for r in records if 'lr' in r)

    def resumed_from(stamp):
        log = osp.join(work_dir, stamp, f'{stamp}.log')
        found = _RESUMED.search(open(log, errors='replace').read()) if osp.isfile(log) else None
        return int(found.group(1)) if found else None

    stamp, _, records = trained[-1]
    chain = [(stamp, records, None)]
    for stamp, _, records in reversed(trained[:-1]):
        newer, newer_records, _ = chain[0]
        resumed = resumed_from(newer)
        if resumed is None and first_step(newer_records) <= first_step(records):
            notes.append(f'{stamp} and older: another run, before the latest started afresh')
            break
        # the first iteration the newer part trained again
        redone = resumed + 1 if resumed is not None else first_step(newer_records)
        cut = next((i for i, r in enumerate(records) if 'lr' in r and r['step'] >= redone),
                   len(records))
        chain.insert(0, (stamp, records[:cut], len(records) - cut))
    for i, (stamp, records, dropped) in enumerate(chain):
        steps = [r['step'] for r in records if 'lr' in r]
        line = f'{stamp}: iterations {min(steps)}-{max(steps)}' if steps else \
            f'{stamp}: no training records kept'
        if dropped:
            line += (f' ({dropped} later records left out: the next part resumed from an '
                     'earlier checkpoint)')
        if i == 0 and resumed_from(stamp) is not None:
            line += (f', resumed from iteration {resumed_from(stamp)}: the records before it '
                     'are not in this work dir')
        notes.insert(i, line)
    return split_records([r for _, records, _ in chain for r in records]), notes


def load_scalars(source: str) -> Dict[str, List[Dict]]:
    """``{'train': [...], 'val': [...]}`` of a ``scalars.json`` file, or of the latest run
    of a work dir, its resumed parts joined (:func:`load_run`)."""
    return load_run(source)[0] if osp.isdir(source) else split_records(read_scalars(source))


def scalar_series(records: Sequence[Dict], key: str) -> Tuple[List[float], List[float]]:
    """``(steps, values)`` of the records that contain ``key``."""
    pairs = [(r['step'], r[key]) for r in records if key in r and 'step' in r]
    return [float(s) for s, _ in pairs], [float(v) for _, v in pairs]


def _save(fig: Figure, out_path: Optional[str]) -> Figure:
    fig.tight_layout()
    if out_path:
        fig.savefig(out_path, dpi=120)
    return fig


def plot_loss_terms(scalars_path: str, out_path: Optional[str] = None,
                    terms: Sequence[str] = LOSS_TERMS) -> Figure:
    """The (weighted) CGH loss terms and the warm-up ``alpha`` per iteration."""
    records = load_scalars(scalars_path)['train']
    fig = Figure(figsize=(7, 5.5))
    ax_loss, ax_alpha = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    series = {term: scalar_series(records, term) for term in terms}
    if not any(steps for steps, _ in series.values()):
        raise ValueError(f'{scalars_path} has none of {list(terms)}: is it a CGH run?')
    for term, (steps, values) in series.items():
        if steps:
            ax_loss.plot(steps, values, label=term, linewidth=1.2)
    ax_loss.set(ylabel='weighted loss term', title='CGH loss terms')
    ax_loss.legend()
    ax_alpha.plot(*scalar_series(records, 'alpha'), color='black', linewidth=1.2)
    ax_alpha.set(ylabel='alpha', xlabel='iteration', ylim=(-0.05, 1.05))
    for ax in (ax_loss, ax_alpha):
        ax.grid(alpha=0.3)
    return _save(fig, out_path)


def plot_knn_accuracy(runs: Dict[str, str], out_path: Optional[str] = None,
                      baselines: Optional[Dict[str, float]] = None,
                      key: str = 'knn/top1') -> Figure:
    """Online kNN top-1 per validation epoch of each run (label -> scalars.json), with
    reference values (label -> accuracy) drawn as horizontal lines."""
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for label, path in runs.items():
        steps, values = scalar_series(load_scalars(path)['val'], key)
        if not steps:
            raise ValueError(f'{path} has no `{key}`: was the kNN monitor (KNNValLoop + '
                             'WeightedKNNAccuracy) on?')
        ax.plot(steps, values, marker='o', label=label)
    for (label, value), style in zip((baselines or {}).items(), ('--', ':', '-.')):
        ax.axhline(value, color='grey', linestyle=style, label=label)
    ax.set(xlabel='epoch', ylabel='kNN top-1 (%)', title='weighted kNN accuracy')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_path)


def plot_health(scalars_path: str, out_path: Optional[str] = None) -> Figure:
    """CGH's health metrics per iteration, the InfoNCE warm-up shaded."""
    records = load_scalars(scalars_path)['train']
    fig = Figure(figsize=(7, 8.5))
    axes = fig.subplots(len(HEALTH_PANELS), 1, sharex=True)
    warmup = [s for s, a in zip(*scalar_series(records, 'alpha')) if a < 1]
    for ax, (title, keys) in zip(axes, HEALTH_PANELS.items()):
        for key, label in keys:
            ax.plot(*scalar_series(records, key), label=label, linewidth=1.2)
        if not ax.lines[0].get_xdata().size:
            raise ValueError(f'{scalars_path} has no `{keys[0][0]}`: is it a CGH run?')
        if warmup:
            ax.axvspan(min(warmup), max(warmup), color='grey', alpha=0.15)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylim(top=1.02)
    axes[-1].set_xlabel('iteration (grey: InfoNCE warm-up)')
    return _save(fig, out_path)


def main() -> None:
    parser = argparse.ArgumentParser(description='Plot a CGH run from its scalars.json')
    parser.add_argument('work_dir', help="the run's work dir (its latest run is read, the "
                        'parts of a resumed run joined) or a scalars.json file')
    parser.add_argument('--out-dir', help='folder of the PNGs (default: WORK_DIR)')
    args = parser.parse_args()
    if osp.isdir(args.work_dir):
        _, parts = load_run(args.work_dir)
        print(f'{args.work_dir}: plotting from\n  ' + '\n  '.join(parts))
    out_dir = args.out_dir or (args.work_dir if osp.isdir(args.work_dir) else
                               osp.dirname(args.work_dir))
    plots = dict(cgh_loss_terms=plot_loss_terms, cgh_health=plot_health,
                 knn_accuracy=lambda p, out: plot_knn_accuracy({'online kNN monitor': p}, out))
    os.makedirs(out_dir, exist_ok=True)
    for name, plot in plots.items():
        out = osp.join(out_dir, f'{name}.png')
        try:
            plot(args.work_dir, out)
            print(out)
        except ValueError as err:  # e.g. a run without the kNN monitor
            print(f'{name}: skipped, {err}')


if __name__ == '__main__':
    main()
