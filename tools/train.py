"""Train (pre-train) a model with an mmengine Runner, as mmpretrain's tools/train.py."""
import argparse
import fcntl
import glob
import os
import os.path as osp
import socket
import time
from typing import Optional

from launch import (  # tools/launch.py
    apply_launch_args,
    destroy_distributed,
    parse_launch_args,
    prepare_cpu_distributed,
)
from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.runner import Runner, find_latest_checkpoint

from cgh_mm.utils import check_checkpoint_file, check_checkpoint_paths


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (cgh-mm)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the given checkpoint; without a path, from the '
                        'latest checkpoint of the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate linearly with the total batch')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log to TensorBoard (work_dir/<run>/vis_data)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, key=value pairs (no spaces)')
    return parse_launch_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    apply_launch_args(cfg, args)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError(f'--auto-scale-lr: {args.config} has no `auto_scale_lr`; add '
                             '`auto_scale_lr = dict(base_batch_size=B)` with the total batch '
                             'its learning rate was set for.')
        cfg.auto_scale_lr.enable = True
    if args.tensorboard:
        cfg.visualizer.vis_backends.append(dict(type='TensorboardVisBackend'))
    cfg.merge_from_dict(args.cfg_options or {})
    return cfg


def check_resume(cfg: Config) -> None:
    """Name the checkpoint a resume will read, and refuse a broken one before any work."""
    if not cfg.get('resume', False):
        return
    path = cfg.load_from or find_latest_checkpoint(cfg.work_dir)
    if path is None:
        print(f'--resume: no checkpoint in {cfg.work_dir}, training from scratch')
        return
    try:
        check_checkpoint_file(path)
    except (OSError, RuntimeError) as err:
        others = sorted(set(glob.glob(osp.join(osp.dirname(path), '*.pth'))) - {path})
        raise SystemExit(f'--resume: {err}\nOther checkpoints there: {", ".join(others) or "none"}'
                         '; resume from one with --resume PATH.') from err
    print(f'--resume: resuming from {path}')


def check_amp_device(cfg: Config) -> None:
    """Refuse ``AmpOptimWrapper`` (``--amp``) where mmengine cannot run it, before the
    model is built: it asserts a CUDA, NPU, MLU or MUSA device."""
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper' and get_device() in ('cpu', 'mps'):
        raise SystemExit(
            f'--amp (optim_wrapper.type=AmpOptimWrapper) needs a GPU, and this machine has '
            f'none that mmengine can use (device: {get_device()}). Train in float32 here '
            'without --amp (or with --cfg-options optim_wrapper.type=OptimWrapper), or run '
            'where a GPU is visible.')


# Rank variables of the launchers: only the first process of a job locks its work dir.
_RANK_VARIABLES = dict(pytorch='RANK', slurm='SLURM_PROCID', mpi='OMPI_COMM_WORLD_RANK')


def lock_work_dir(work_dir: str, launcher: str = 'none') -> Optional[int]:
    """Refuse a work dir that another training is using, and hold it for this one.

    The first process of the job takes an exclusive ``flock`` on ``WORK_DIR/.lock`` and
    keeps it open: the lock lasts as long as the process, and the system releases it
    however the process ends (a kill included), so it is never left stuck. The file
    names the holder. Returns the file descriptor (None on the other ranks).
    """
    if int(os.environ.get(_RANK_VARIABLES.get(launcher, ''), 0)) != 0:
        return None
    path = osp.join(work_dir, '.lock')
    try:
        os.makedirs(work_dir, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as err:
        raise SystemExit(f'the work dir {work_dir} is not writable ({err.strerror}: {err.filename})'
                         '; training would fail at its first log or checkpoint. Pass a '
                         'writable folder with --work-dir DIR.') from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors='replace').strip() or 'a process'
        os.close(fd)
        raise SystemExit(
            f'the work dir {work_dir} is in use by another training ({holder}): two runs '
            'in one work dir overwrite each other\'s checkpoints, last_checkpoint and logs. '
            'Give this run its own --work-dir DIR, or wait until the other one ends (its '
            'lock goes with its process, even when it is killed).') from None
    os.ftruncate(fd, 0)
    os.write(fd, f'pid {os.getpid()} on {socket.gethostname()}, since '
                 f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode())
    # The lock is ours: partial checkpoint files here are a dead writer's leftovers.
    stale = glob.glob(osp.join(work_dir, '.*.partial'))
    for leftover in stale:
        os.remove(leftover)
    if stale:
        print(f'removed {len(stale)} partial file(s) of an interrupted save in {work_dir}: '
              f'{", ".join(map(osp.basename, stale))}')
    return fd


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_checkpoint_paths(cfg)
    check_amp_device(cfg)
    lock_work_dir(cfg.work_dir, args.launcher)
    check_resume(cfg)
    prepare_cpu_distributed(cfg, args.launcher)
    Runner.from_cfg(cfg).train()
    destroy_distributed()


if __name__ == '__main__':
    main()
