"""Turn a training checkpoint into a release file with the OpenMMLab name.

    python tools/model_converters/publish_model.py IN_FILE OUT_DIR [--stem STEM] [--date YYYYMMDD]

Keeps ``state_dict`` (the student, the EMA teacher and the queues: what
inference, the backbone converters and downstream fine-tuning read) and a
``meta`` reduced to plain facts (config text, epoch, iteration, seed, save
time, mmengine version, dataset meta); drops the optimizer, the parameter schedulers,
the message hub, the random states and anything else that only a resumed run
needs. The output is ``OUT_DIR/<stem>_<YYYYMMDD>-<first 8 hex of sha256>.pth``,
written to a temporary file in ``OUT_DIR`` and renamed into place, so a reader
never sees half a file.

The input is read with ``torch.load(weights_only=True)``: tensors and the
allow-listed mmengine bookkeeping classes only, never arbitrary pickled code.
"""
import argparse
import datetime
import hashlib
import io
import os.path as osp
from typing import Any, Dict, List, Optional

import torch

# What a published checkpoint's ``meta`` keeps; the rest (``message_hub`` copies,
# hook state, the experiment name with its timestamp) only matters to a resumed run.
KEPT_META_KEYS = ('cfg', 'epoch', 'iter', 'seed', 'time', 'mmengine_version', 'dataset_meta')


def strip_checkpoint(checkpoint: Dict[str, Any]) -> Dict[str, Any]:
    """``{'state_dict': ..., 'meta': {...}}`` with only what inference needs.

    Raises:
        KeyError: ``checkpoint`` has no ``state_dict`` (not an mmengine checkpoint).
    """
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise KeyError(
            f'the input has no "state_dict" (found {found}); give a checkpoint written '
            'by mmengine (e.g. work_dirs/<config>/epoch_200.pth).')
    meta = checkpoint.get('meta') or {}
    kept_meta = {key: meta[key] for key in KEPT_META_KEYS if key in meta}
    return dict(state_dict=checkpoint['state_dict'], meta=kept_meta)


def release_name(stem: str, date: str, sha256: str) -> str:
    """OpenMMLab release file name: ``<stem>_<YYYYMMDD>-<first 8 hex of sha256>.pth``."""
    return f'{stem}_{date}-{sha256[:8]}.pth'


def check_date(date: str) -> str:
    """Return ``date`` if it is a valid ``YYYYMMDD``; else raise a ``ValueError``."""
    try:
        datetime.datetime.strptime(date, '%Y%m%d')
    except ValueError as err:
        raise ValueError(f'--date {date!r} is not a date in the form YYYYMMDD '
                         '(e.g. 20261127).') from err
    return date


def publish(in_file: str, out_dir: str, stem: Optional[str] = None,
            date: Optional[str] = None) -> str:
    """Write the stripped checkpoint of ``in_file`` into ``out_dir``; return its path.

    ``stem`` defaults to the name of the folder holding ``in_file``, which is the
    config stem for tools/train.py's default ``work_dirs/<config stem>/``;
    ``date`` defaults to today (UTC).
    """
    from cgh_mm.utils.checkpoint import load_checkpoint_safely, write_file_atomically

    checkpoint = load_checkpoint_safely(in_file)
    stripped = strip_checkpoint(checkpoint)
    stem = stem or osp.basename(osp.dirname(osp.abspath(in_file)))
    date = check_date(date or datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d'))

    # Serialised in memory: torch.save names the zip's inner folder after the
    # file it writes, so saving to a temporary name would make the hash differ
    # between two publications of the same weights.
    buffer = io.BytesIO()
    torch.save(stripped, buffer)
    data = buffer.getvalue()
    out_path = osp.join(out_dir, release_name(stem, date, hashlib.sha256(data).hexdigest()))

    write_file_atomically(out_path, data)
    return out_path


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('in_file', help='checkpoint written by training')
    parser.add_argument('out_dir', help='folder for the release file')
    parser.add_argument('--stem', help='file name stem (default: the folder name of '
                        'IN_FILE, i.e. the config name for work_dirs/<config>/)')
    parser.add_argument('--date', help='YYYYMMDD in the file name (default: today, UTC)')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    out_path = publish(args.in_file, args.out_dir, stem=args.stem, date=args.date)
    size_mib = osp.getsize(out_path) / 2**20
    print(f'{out_path} ({size_mib:.1f} MiB)')


if __name__ == '__main__':
    main()
