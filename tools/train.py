"""Train (pre-train) a model with an mmengine Runner, as mmpretrain's tools/train.py.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp] \
        [--auto-scale-lr] [--cfg-options k=v ...] [--launcher none|pytorch|slurm|mpi]
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from cgh_mm.utils.launch import apply_launch_args, parse_launch_args


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model (cgh-mm)')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint; without a path, from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true', help='mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate linearly with the total batch')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs, e.g. model.queue_len=65536')
    args = parse_launch_args(parser)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    apply_launch_args(cfg, args)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_wrapper == 'OptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume is not None and args.resume != 'auto':
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: no such checkpoint. Give the path of a '
                'checkpoint of this run, or --resume without a path to take the last '
                'complete one of the work dir.')
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.auto_scale_lr = dict(cfg.get('auto_scale_lr', {}), enable=True)
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)

    if args.resume == 'auto':
        # mmengine's own lookup trusts `last_checkpoint`, which may name a file
        # whose writing was cut short.
        from cgh_mm.utils import find_last_complete_checkpoint
        cfg.load_from = find_last_complete_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
        print(f'--resume: resuming from {cfg.load_from}' if cfg.resume else
              f'--resume: no complete checkpoint in {cfg.work_dir}, training from scratch')

    train_cfg = cfg.get('train_cfg') or {}
    if train_cfg.get('type') in ('EpochBasedTrainLoop', 'mmengine.EpochBasedTrainLoop'):
        # The same loop, except that a resume in the middle of an epoch goes on
        # with the next batch instead of starting the epoch over.
        # Scoped name: mmdet and mmseg configs build loops from their own registries.
        cfg.train_cfg.type = 'mmpretrain.ResumableEpochBasedTrainLoop'
    return cfg


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)

    from cgh_mm.utils import check_checkpoint_paths, prepare_cpu_distributed
    check_checkpoint_paths(cfg)
    prepare_cpu_distributed(cfg, args.launcher)

    runner = Runner.from_cfg(cfg)
    runner.train()


if __name__ == '__main__':
    main()
