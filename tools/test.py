"""Test (evaluate) a checkpoint with an mmengine Runner, as mmpretrain's tools/test.py.

The config needs ``test_dataloader``, ``test_cfg`` and ``test_evaluator`` (a
downstream config, e.g. a linear probe); a pretraining config has none.
"""
import argparse

import mmengine
from mmengine.config import Config
from mmengine.evaluator import DumpResults
from mmengine.runner import Runner

from cgh_mm.runtime import check_checkpoint_file
from cgh_mm.runtime.launch import (
    CfgOptions,
    apply_launch_args,
    destroy_distributed,
    parse_launch_args,
    prepare_cpu_distributed,
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (evaluate) a model (cgh-mm)')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs and metrics')
    parser.add_argument('--out', help='file to write predictions or metrics to (.pkl/.json)')
    parser.add_argument('--out-item', choices=['metrics', 'pred'],
                        help='what --out holds (default: predictions)')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions,
                        help='override config settings, key=value pairs (no spaces)')
    parser.add_argument('--amp', action='store_true', help='mixed precision test')
    args = parse_launch_args(parser)
    if args.out is None and args.out_item is not None:
        parser.error('--out-item needs --out FILE to say where to write')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    apply_launch_args(cfg, args)
    cfg.load_from = args.checkpoint
    cfg.merge_from_dict(args.cfg_options or {})
    missing = [key for key in ('test_dataloader', 'test_cfg', 'test_evaluator')
               if cfg.get(key, None) is None]
    if missing:
        raise ValueError(
            f'{args.config} has no {", ".join(missing)}: tools/test.py evaluates downstream '
            'configs (e.g. a linear probe). Use a config that defines them.')
    if args.amp:
        cfg.test_cfg.fp16 = True
    return cfg


def main() -> None:
    args = parse_args()
    check_checkpoint_file(args.checkpoint)
    cfg = merge_args(Config.fromfile(args.config), args)
    prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    if args.out and args.out_item in ('pred', None):
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    metrics = runner.test()
    del runner
    destroy_distributed()
    if args.out and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


if __name__ == '__main__':
    main()
