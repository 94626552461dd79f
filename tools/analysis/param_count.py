"""Count the parameters of a model built from a config, per top-level module."""
import argparse

from mmengine.analysis import parameter_count
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from cgh_mm.runtime.launch import CfgOptions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions)
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.merge_from_dict(args.cfg_options or {})
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    import cgh_mm.models  # noqa: F401  (registers CGH)
    model = MODELS.build(cfg.model)
    counts = parameter_count(model)  # {module name prefix: parameters}, '' is the total
    rows = {name: counts[name] for name, _ in model.named_children()}
    rows['trainable'] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    rows['total'] = counts['']
    width = max(len(n) for n in rows) + 2
    print(f'{type(model).__name__} from {args.config}')
    for name, n in rows.items():
        print(f'  {name:<{width}}{n / 1e6:10.2f} M')


if __name__ == '__main__':
    main()
