"""The CGH demo: pretrain on real data (Fashion-MNIST) on CPU and measure it.

    python tools/demo.py [--config CFG] [--work-dir work_dirs/demo] [--data-root DIR]

1. gets Fashion-MNIST (Debian package ``dataset-fashion-mnist``; installed with
   apt-get when missing and running as root) and converts it to a folder dataset;
2. measures weighted kNN top-1 (k=20, T=0.07) of the randomly initialised
   backbone on the 10k test images (memory bank: a fixed train subset);
3. pretrains CGH with the online kNN monitor each epoch;
4. measures the pretrained backbone with the same extractor and memory bank;
5. writes PNG plots (loss terms and alpha per iteration, kNN per epoch) and
   prints a summary.
"""
import argparse
import copy
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from typing import Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'dataset_converters'))

from fashion_mnist_to_folder import DEFAULT_SRC, convert, is_converted, required_files  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

DEBIAN_PACKAGE = 'dataset-fashion-mnist'


def ensure_fashion_mnist(src: str = DEFAULT_SRC) -> None:
    """Install the Debian package when its files are missing; exit with a clear message
    when that is not possible."""
    missing = [p for p in required_files(src) if not osp.isfile(p)]
    if not missing:
        return
    can_install = hasattr(os, 'geteuid') and os.geteuid() == 0 and shutil.which('apt-get')
    if can_install:
        print(f'Fashion-MNIST missing: installing the Debian package {DEBIAN_PACKAGE} ...')
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        subprocess.run(['apt-get', 'update'], check=True, env=env)
        subprocess.run(['apt-get', 'install', '-y', DEBIAN_PACKAGE], check=True, env=env)
        missing = [p for p in required_files(src) if not osp.isfile(p)]
    if missing:
        sys.exit('The demo needs the Fashion-MNIST idx files:\n  ' + '\n  '.join(missing) +
                 f'\nInstall them with `sudo apt-get install {DEBIAN_PACKAGE}`, or copy the '
                 f'four files into {src} (or pass --fashion-mnist-src DIR).')


def default_threads() -> int:
    """All cores, or 1 when other work already keeps them busy.

    Multi-threaded kernels wait for their slowest thread at every op; when the
    cores are shared, one thread was measured 9x faster than two on 2 cores.
    """
    cores = os.cpu_count() or 1
    busy = hasattr(os, 'getloadavg') and os.getloadavg()[0] > 0.5 * cores
    return 1 if busy else cores


def final_eval_loaders(cfg: Config, memory_size: int):
    """Memory bank (the first ``memory_size`` train images) and all test images,
    with the config's test pipeline (the online monitor uses smaller subsets)."""
    memory = copy.deepcopy(cfg.val_cfg.memory_dataloader)
    memory.dataset.indices = memory_size
    query = copy.deepcopy(cfg.val_dataloader)
    query.dataset.pop('indices', None)
    return Runner.build_dataloader(memory), Runner.build_dataloader(query)


def knn_top1(runner: Runner, memory_loader, query_loader) -> Tuple[float, float]:
    """kNN top-1 (percent) of the runner's backbone, and the seconds it took."""
    from cgh_mm.evaluation import extract_features, weighted_knn_accuracy
    start = time.time()
    model = runner.model
    memory = extract_features(model, memory_loader, progress=True)
    query = extract_features(model, query_loader, progress=True)
    acc = weighted_knn_accuracy(*memory, *query, num_classes=10, ks=(20, ), temperature=0.07)
    return acc[20], time.time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--config', default=osp.join(
        ROOT, 'configs', 'cgh', 'cgh_resnet18_1xb64-fashion-mnist_demo.py'))
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'fashion-mnist'),
                        help='where the converted folder dataset lives')
    parser.add_argument('--fashion-mnist-src', default=DEFAULT_SRC,
                        help='folder of the original idx .gz files')
    parser.add_argument('--memory-size', type=int, default=10000,
                        help='train images in the kNN memory bank of the final evaluation')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch CPU threads; default: all cores on an idle machine, '
                        '1 on a busy one')
    args = parser.parse_args()
    start = time.time()
    threads = args.threads or default_threads()
    torch.set_num_threads(threads)

    if not is_converted(args.data_root):
        ensure_fashion_mnist(args.fashion_mnist_src)
    convert(args.fashion_mnist_src, args.data_root)

    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.val_cfg.memory_dataloader):
        loader.dataset.data_root = args.data_root
    runner = Runner.from_cfg(cfg)
    # Initialise once here: training starts from exactly the weights measured below.
    runner.model.init_weights()
    memory_loader, query_loader = final_eval_loaders(cfg, args.memory_size)
    n_memory, n_query = len(memory_loader.dataset), len(query_loader.dataset)

    print(f'kNN of the randomly initialised backbone ({n_query} test images, '
          f'{n_memory} train images as memory bank) ...')
    random_acc, eval_time = knn_top1(runner, memory_loader, query_loader)
    print(f'kNN top-1, random init: {random_acc:.2f} % ({eval_time:.0f} s)')

    train_start = time.time()
    runner.train()
    train_time = time.time() - train_start

    print('kNN of the pretrained backbone ...')
    pretrained_acc, _ = knn_top1(runner, memory_loader, query_loader)
    print(f'kNN top-1, pretrained: {pretrained_acc:.2f} %')

    from cgh_mm.visualization import find_scalars_file, plot_knn_accuracy, plot_loss_terms
    scalars = find_scalars_file(args.work_dir)
    loss_png = osp.join(args.work_dir, 'loss_terms.png')
    knn_png = osp.join(args.work_dir, 'knn_accuracy.png')
    plot_loss_terms(scalars, loss_png)
    monitor = runner.val_loop
    plot_knn_accuracy(
        scalars, knn_png, baseline=random_acc,
        label=f'online monitor ({len(monitor.memory_dataloader.dataset)} train / '
        f'{len(monitor.dataloader.dataset)} test images)',
        baseline_label=f'random init ({n_memory} train / {n_query} test images)')
    wall = time.time() - start

    hub = runner.message_hub
    epochs = cfg.train_cfg.max_epochs
    print('\n' + '=' * 64)
    print('CGH demo: Fashion-MNIST, CPU')
    print(f'  pretraining     {len(runner.train_dataloader.dataset)} train images x '
          f'{epochs} epochs, {runner.iter} iterations, {train_time:.0f} s')
    print('  final losses    ' + ', '.join(
        f'{k} {hub.get_scalar(f"train/{k}").current():.3f}'
        for k in ('loss_hyper', 'loss_global')))
    print(f'  kNN top-1 (k=20, T=0.07, {n_query} test images, {n_memory} train images as '
          'memory bank)')
    print(f'    random init   {random_acc:6.2f} %')
    print(f'    pretrained    {pretrained_acc:6.2f} %   ({pretrained_acc - random_acc:+.2f})')
    print(f'  one kNN eval    {eval_time:.0f} s')
    print(f'  torch threads   {threads} (load average {os.getloadavg()[0]:.1f} on '
          f'{os.cpu_count()} cores at the end)')
    print(f'  wall time       {wall:.0f} s ({wall / 60:.1f} min)')
    print(f'  plots           {loss_png}')
    print(f'                  {knn_png}')
    print(f'  logs            {scalars}')
    print('=' * 64)


if __name__ == '__main__':
    main()
