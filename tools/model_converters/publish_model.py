"""Strip a training checkpoint to ``state_dict`` and plain ``meta`` facts (no optimizer,
schedulers or message hub) as ``OUT_DIR/<stem>_<YYYYMMDD>-<sha256[:8]>.pth``."""
import argparse
import datetime
import hashlib
import io
import os.path as osp
from typing import Any, Dict, List, Optional

import torch

# What a published ``meta`` keeps; the rest (hook state, experiment name) serves resuming.
KEPT_META_KEYS = ('cfg', 'epoch', 'iter', 'seed', 'time', 'mmengine_version', 'dataset_meta')


def strip_checkpoint(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """``{'state_dict': ..., 'meta': {...}}`` with only what inference needs."""
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise KeyError(f'the input has no "state_dict" (found {found}); give a checkpoint written '
                       'by mmengine (e.g. work_dirs/<config>/epoch_200.pth).')
    meta = checkpoint.get('meta') or {}
    return dict(state_dict=checkpoint['state_dict'],
                meta={key: meta[key] for key in KEPT_META_KEYS if key in meta})


def publish(in_file: str, out_dir: str, stem: Optional[str] = None,
            date: Optional[str] = None) -> str:
    """Write the stripped checkpoint of ``in_file`` into ``out_dir``; return its path.
    ``stem`` defaults to the folder name of ``in_file``, ``date`` to today (UTC)."""
    from cgh_mm.runtime.checkpoint import load_checkpoint_safely, write_file_atomically

    date = date or datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d')
    try:
        datetime.datetime.strptime(date, '%Y%m%d')
    except ValueError as err:
        raise ValueError(f'--date {date!r} is not a date in the form YYYYMMDD '
                         '(e.g. 20261127).') from err
    stripped = strip_checkpoint(load_checkpoint_safely(in_file))
    stem = stem or osp.basename(osp.dirname(osp.abspath(in_file)))
    # Serialised in memory: torch.save names the zip's inner folder after the file it
    # writes, so saving to a temporary name would change the hash of the same weights.
    buffer = io.BytesIO()
    torch.save(stripped, buffer)
    data = buffer.getvalue()
    out_path = osp.join(out_dir, f'{stem}_{date}-{hashlib.sha256(data).hexdigest()[:8]}.pth')
    write_file_atomically(out_path, data)
    return out_path


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('in_file', help='checkpoint written by training')
    parser.add_argument('out_dir', help='folder for the release file')
    parser.add_argument('--stem', help='file name stem (default: the folder name of '
                        'IN_FILE, i.e. the config name for work_dirs/<config>/)')
    parser.add_argument('--date', help='YYYYMMDD in the file name (default: today, UTC)')
    args = parser.parse_args(argv)
    out_path = publish(args.in_file, args.out_dir, stem=args.stem, date=args.date)
    print(f'{out_path} ({osp.getsize(out_path) / 2**20:.1f} MiB)')


if __name__ == '__main__':
    main()
