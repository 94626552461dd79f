"""A short CPU pretraining of CGH on generated images; prints the loss terms."""
import argparse
import os.path as osp
import time

from mmengine.config import Config
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs', 'cgh', 'cgh_resnet18_1xb16-2e_synthetic.py'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    args = parser.parse_args()
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    print('final loss terms:', {k: round(hub.get_scalar(f'train/{k}').current(), 4)
                                for k in ('loss', 'loss_nce', 'loss_hyper', 'loss_global',
                                          'alpha')})
    print(f'wall time: {time.time() - start:.1f} s, work dir: {args.work_dir}')


if __name__ == '__main__':
    main()
