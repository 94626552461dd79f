"""Train (pre-train) a model with an mmengine Runner, as mmpretrain's tools/train.py."""
import argparse
import glob
import os
import os.path as osp
import re
from typing import Optional

from mmengine.config import Config
from mmengine.device import get_device
from mmengine.runner import Runner

from cgh_mm.runtime import (
    check_checkpoint_file,
    check_checkpoint_paths,
    checkpoint_folder,
    find_resume_checkpoint,
    list_checkpoints,
    load_checkpoint_safely,
)
from cgh_mm.runtime.launch import (
    CfgOptions,
    apply_launch_args,
    destroy_distributed,
    parse_launch_args,
    prepare_cpu_distributed,
)
from cgh_mm.runtime.resume_config import resume_mismatch, resume_refusal
from cgh_mm.runtime.work_dir_lock import lock_folder


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
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
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


def checkpoint_dir(cfg: Config) -> str:
    """Where this run's checkpoint hook writes (the work dir unless it has an ``out_dir``)."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    return checkpoint_folder(cfg.work_dir, hook.get('out_dir'))


def check_resume(cfg: Config) -> None:
    """Name the checkpoint a resume will read and set it as ``load_from``; refuse, before
    any work, a broken one, a resume that cannot tell which checkpoint continues the run,
    and a fresh start over checkpoints of the work dir."""
    folder = checkpoint_dir(cfg)
    if not cfg.get('resume', False):
        check_fresh_start(cfg, folder)
        return
    path = cfg.load_from
    if path is None:
        try:
            path, how = find_resume_checkpoint(cfg.work_dir, folder)
        except ValueError as err:
            raise SystemExit(f'--resume: {err}') from None
        if path is None:
            print(f'--resume: {how}, training from scratch')
            return
        print(f'--resume: {how}')
        # the Runner resumes from exactly the checkpoint checked here, and the run's config
        # says which one it was
        cfg.load_from = path
    try:
        check_checkpoint_file(path)
    except (OSError, RuntimeError) as err:
        others = [other for other in list_checkpoints(osp.dirname(path)) if other != path]
        raise SystemExit(f'--resume: {err}\nOther checkpoints there: {", ".join(others) or "none"}'
                         '; resume from one with --resume PATH.') from err
    check_resume_settings(cfg, path)
    print(f'--resume: resuming from {path}')


def check_resume_settings(cfg: Config, path: str) -> None:
    """Refuse a resume whose settings differ from those its checkpoint was trained with
    (``CheckpointMatchHook`` checks it again for Runners started elsewhere); here before
    the Runner writes anything (it dumps its config into the work dir)."""
    meta = load_checkpoint_safely(path, mmap=True).get('meta') or {}
    match = (cfg.get('default_hooks') or {}).get('checkpoint_match') or {}
    refused, _ = resume_mismatch(meta, cfg.to_dict(), match.get('resume_may_change', ()))
    if refused:
        raise SystemExit(resume_refusal(path, refused))


def check_fresh_start(cfg: Config, folder: str) -> None:
    """Refuse a training from scratch in a work dir that holds checkpoints it would
    overwrite (``epoch_N.pth``/``iter_N.pth`` by the hook's names, ``best_*``), or the
    ``last_checkpoint`` a later ``--resume`` would follow."""
    hook = (cfg.get('default_hooks') or {}).get('checkpoint') or {}
    template = hook.get('filename_tmpl') or ('epoch_{}.pth' if hook.get('by_epoch', True)
                                            else 'iter_{}.pth')
    ours = re.compile(re.escape(template).replace(re.escape('{}'), r'\d+') + '$|best_.*')
    found = [p for p in list_checkpoints(folder) if ours.match(osp.basename(p))]
    pointer = osp.join(cfg.work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        found.append(pointer)
    if found:
        raise SystemExit(
            f'{folder} holds the checkpoints of an earlier training '
            f'({", ".join(map(osp.basename, found))}), and training from scratch there would '
            'overwrite them. To continue that training add --resume; to train anew, give this '
            'run its own --work-dir DIR (or move those files away first).')


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


def lock_work_dir(work_dir: str, launcher: str = 'none',
                  ckpt_dir: Optional[str] = None) -> Optional[int]:
    """Refuse a work dir that another training is using, and hold it for this one.

    The first process of the job takes an exclusive ``flock`` on ``WORK_DIR/.lock`` and
    keeps it open: the lock lasts as long as the process, and the system releases it
    however the process ends (a kill included), so it is never left stuck. The file
    names the holder. Then it removes the partial files that a killed save left in the
    work dir and in the run's checkpoint folder ``ckpt_dir`` (:func:`checkpoint_dir`).
    Returns the file descriptor (None on the other ranks).
    """
    if int(os.environ.get(_RANK_VARIABLES.get(launcher, ''), 0)) != 0:
        return None

    def busy(holder: str) -> SystemExit:
        return SystemExit(
            f'the work dir {work_dir} is in use by another training ({holder}): two runs '
            'in one work dir overwrite each other\'s checkpoints, last_checkpoint and logs. '
            'Give this run its own --work-dir DIR, or wait until the other one ends (its '
            'lock goes with its process, even when it is killed).')

    try:
        fd = lock_folder(work_dir, '.lock', busy)
    except OSError as err:
        raise SystemExit(f'the work dir {work_dir} is not writable ({err.strerror}: {err.filename})'
                         '; training would fail at its first log or checkpoint. Pass a '
                         'writable folder with --work-dir DIR.') from err
    # The lock is ours: partial files of this run's saves are a dead writer's leftovers.
    for folder in dict.fromkeys(osp.abspath(f) for f in (work_dir, ckpt_dir or work_dir)
                                if '://' not in f):  # a remote out_dir: not ours to list
        stale = glob.glob(osp.join(glob.escape(folder), '.*.partial'))
        for leftover in stale:
            os.remove(leftover)
        if stale:
            print(f'removed {len(stale)} partial file(s) of an interrupted save in {folder}: '
                  f'{", ".join(map(osp.basename, stale))}')
    return fd


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_checkpoint_paths(cfg)
    check_amp_device(cfg)
    lock_work_dir(cfg.work_dir, args.launcher, checkpoint_dir(cfg))
    check_resume(cfg)
    prepare_cpu_distributed(cfg, args.launcher)
    Runner.from_cfg(cfg).train()
    destroy_distributed()


if __name__ == '__main__':
    main()
