"""Train (pre-train) a model with an mmengine Runner, as mmpretrain's tools/train.py."""
import argparse
import glob
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner, find_latest_checkpoint

from cgh_mm.utils import check_checkpoint_file, check_checkpoint_paths
from cgh_mm.utils.launch import apply_launch_args, parse_launch_args, prepare_cpu_distributed


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


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    check_checkpoint_paths(cfg)
    check_resume(cfg)
    prepare_cpu_distributed(cfg, args.launcher)
    Runner.from_cfg(cfg).train()


if __name__ == '__main__':
    main()
