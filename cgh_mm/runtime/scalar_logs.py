"""mmengine's scalar logs read back: the records of a run's ``vis_data/scalars.json``
(``LocalVisBackend``), the parts of a resumed run joined.

Each line of that file is one JSON record, split as mmpretrain's ``load_json_log`` does:
train records carry the logged scalars (``loss_*``, ``lr``, ...) with ``step`` =
iteration; validation records carry the metrics (e.g. ``knn/top1``) with ``step`` = epoch.
Every start of a run writes its own ``<timestamp>/vis_data/scalars.json``: given a work
dir, its latest run is read whole, the parts of a resumed run joined (see
:func:`load_run`), with a line saying which parts were read.
"""
import glob
import json
import os.path as osp
import re
from typing import Dict, List, Sequence, Tuple


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
        if not osp.isfile(log):
            return None
        with open(log, errors='replace') as f:
            found = _RESUMED.search(f.read())
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
        resumed = resumed_from(stamp) if i == 0 else None
        if resumed is not None:
            line += (f', resumed from iteration {resumed}: the records before it '
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
