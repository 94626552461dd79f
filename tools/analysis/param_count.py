"""Count the parameters of a model built from a config.

    python tools/analysis/param_count.py configs/cgh_r50_8xb256.py
"""
import argparse
from collections import OrderedDict

import torch.nn as nn
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS


def count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import cgh_mm  # noqa: F401
    model = MODELS.build(cfg.model)
    rows = OrderedDict()
    for name, child in model.named_children():
        rows[name] = count(child)
    width = max(len(n) for n in rows) + 2
    print(f'{type(model).__name__} from {args.config}')
    for name, n in rows.items():
        print(f'  {name:<{width}}{n / 1e6:10.2f} M')
    print(f'  {"trainable":<{width}}{count(model, trainable_only=True) / 1e6:10.2f} M')
    print(f'  {"total":<{width}}{count(model) / 1e6:10.2f} M')


if __name__ == '__main__':
    main()
