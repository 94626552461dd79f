"""The CGH demo: pretrain on real data (Fashion-MNIST) on CPU and compare honestly.

1. gets Fashion-MNIST (Debian package ``dataset-fashion-mnist``, installed with apt-get
   when missing and running as root) as a folder dataset;
2. measures weighted kNN top-1 as the study does (cgh_mm.evaluation.study: its k and
   temperature; memory bank: a fixed train subset, queries: the 10k test images) of raw
   pixels and of the randomly initialised backbone;
3. pretrains CGH, then mmpretrain's MoCo v2 with the same backbone, data, schedule, batch
   and queue length (the study's demo configs), each with the online kNN monitor every
   epoch;
4. measures both pretrained backbones with the same extractor and memory bank;
5. plots kNN per epoch of both runs against the two references, and CGH's health metrics
   and loss terms; prints a summary.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import time
from types import SimpleNamespace

import torch
from mmengine.config import Config
from mmengine.runner import Runner

import cgh_mm.datasets.fashion_mnist_folder as fm
from cgh_mm.evaluation import extract_features
from cgh_mm.evaluation.study import (
    GRID,
    KNN,
    KNN_SETTINGS,
    RESULTS_FILE,
    ResultsFileError,
    final_loaders,
    knn_top1,
    mean_std,
    recorded_runs,
)
from cgh_mm.runtime.scalar_logs import find_scalars_file, load_scalars
from cgh_mm.visualization import plot_health, plot_knn_accuracy, plot_loss_terms

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STUDY_RESULTS = osp.join(ROOT, RESULTS_FILE)
# the study's demo-budget configs of CGH and MoCo v2
CONFIGS = dict(CGH=osp.join(ROOT, GRID['demo']['cross']),
               MoCo=osp.join(ROOT, GRID['demo']['mocov2']))


def backbone_knn_top1(model, memory_loader, query_loader) -> float:
    """Weighted kNN top-1 (percent) of ``model.backbone`` on the study's final protocol."""
    memory, query = (extract_features(model, loader, progress=True)
                     for loader in (memory_loader, query_loader))
    return knn_top1(memory, query, len(memory_loader.dataset.metainfo['classes']))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join(ROOT, 'data', 'fashion-mnist'),
                        help='where the converted folder dataset lives')
    parser.add_argument('--fashion-mnist-src', default=fm.DEFAULT_SRC,
                        help='folder of the original idx .gz files')
    parser.add_argument('--memory-size', type=int, default=10000,
                        help='train images in the kNN memory bank of the final evaluation')
    parser.add_argument('--threads', type=int, help='torch CPU threads; default: all cores '
                        'on an idle machine, 1 on a busy one')
    args = parser.parse_args()
    start = time.time()
    # Multi-threaded kernels wait for their slowest thread: on 2 shared cores one thread
    # was measured 9x faster, so a busy machine gets 1.
    cores = os.cpu_count() or 1
    threads = args.threads or (1 if os.getloadavg()[0] > 0.5 * cores else cores)
    torch.set_num_threads(threads)
    src = args.fashion_mnist_src
    if not fm.is_converted(args.data_root) and fm.missing_files(src) and \
            shutil.which('apt-get') and os.geteuid() == 0:
        print(f'Fashion-MNIST missing: installing the Debian package {fm.DEBIAN_PACKAGE} ...')
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        subprocess.run(['apt-get', 'update'], check=True, env=env)
        subprocess.run(['apt-get', 'install', '-y', fm.DEBIAN_PACKAGE], check=True, env=env)
    try:
        fm.convert(src, args.data_root)
    except FileNotFoundError as err:  # it names the missing files and how to get them
        sys.exit(f'{err} Or pass --fashion-mnist-src DIR.')

    runners = {}
    for name, config in CONFIGS.items():
        cfg = Config.fromfile(config)
        cfg.work_dir = osp.join(args.work_dir, name.lower())
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.val_cfg.memory_dataloader):
            loader.dataset.data_root = args.data_root
        runners[name] = Runner.from_cfg(cfg)
    cgh = runners['CGH']
    # The final protocol: a larger memory bank and all test images, test pipeline.
    memory_loader, query_loader = final_loaders(cgh.cfg, args.memory_size)
    n_memory, n_query = len(memory_loader.dataset), len(query_loader.dataset)

    cgh.model.init_weights()  # training starts from exactly the weights measured here
    pixels = SimpleNamespace(backbone=torch.nn.Flatten(),
                             data_preprocessor=cgh.model.data_preprocessor)
    print(f'kNN of raw pixels and of the random backbone ({n_query} test images, '
          f'{n_memory} train images as memory bank) ...')
    results = {'raw pixels': backbone_knn_top1(pixels, memory_loader, query_loader),
               'random init': backbone_knn_top1(cgh.model, memory_loader, query_loader)}
    train_time = {}
    for name, runner in runners.items():
        tic = time.time()
        runner.train()
        train_time[name] = time.time() - tic
        print(f'kNN of the pretrained {name} backbone ...')
        results[name] = backbone_knn_top1(runner.model, memory_loader, query_loader)

    scalars = {name: find_scalars_file(r.work_dir) for name, r in runners.items()}
    records = {name: load_scalars(path) for name, path in scalars.items()}
    plots = [osp.join(args.work_dir, f'{n}.png') for n in ('knn_accuracy', 'cgh_health',
                                                           'cgh_loss_terms')]
    plot_knn_accuracy(
        {f'{name} (online monitor: {len(r.val_loop.memory_dataloader.dataset)} train / '
         f'{len(r.val_loop.dataloader.dataset)} test images)': records[name]
         for name, r in runners.items()}, plots[0],
        baselines={f'{k} ({n_memory} train / {n_query} test images)': results[k]
                   for k in ('random init', 'raw pixels')})
    plot_health(records['CGH'], plots[1], teaching=cgh.model.head.teaching,
                name=scalars['CGH'])
    plot_loss_terms(records['CGH'], plots[2], name=scalars['CGH'])

    hub = cgh.message_hub
    wall = time.time() - start
    print('\n' + '=' * 72)
    print('CGH demo: Fashion-MNIST, CPU')
    print(f'  pretraining      {len(cgh.train_dataloader.dataset)} train images x '
          f'{cgh.max_epochs} epochs, {cgh.iter} iterations each; CGH {train_time["CGH"]:.0f} s, '
          f'MoCo v2 {train_time["MoCo"]:.0f} s')
    print(f'  kNN top-1 (k={KNN["k"]}, T={KNN["temperature"]}, {n_query} test images, '
          f'{n_memory} train images as memory bank)')
    # The same protocol, budget and configs in the multi-seed study (docs/study.md), if
    # recorded: each run once, only runs evaluated as this one was.
    protocol = dict(memory_size=n_memory, query_size=n_query, **KNN_SETTINGS)
    try:
        recorded = [r for r in recorded_runs(STUDY_RESULTS)[0]
                    if r['budget'] == 'demo' and all(r[k] == v for k, v in protocol.items())
                    and GRID['demo'].get(r['method']) == r['config']]
    except ResultsFileError as err:  # this run's numbers are still printed
        print(f'  (no comparison with the study: {err})')
        recorded = []
    print(f'    {"":<13}{"this run":>8}   study ({RESULTS_FILE})')
    for name, method in (('raw pixels', 'raw-pixels'), ('random init', 'random-init'),
                         ('MoCo', 'mocov2'), ('CGH', 'cross')):
        knn = [r['knn_top1'] for r in recorded if r['method'] == method]
        spread = (f'{mean_std(knn)} % over {len(knn)} seeds' if knn else
                  'not run yet (make study)')
        print(f'    {name.replace("MoCo", "MoCo v2"):<13}{results[name]:6.2f} %   {spread}')
    print('  CGH at the end   ' + ', '.join(
        f'{k} {hub.get_scalar(f"train/{k}").current():.3f}' for k in (
            'loss_hyper', 'loss_global', 'health/hyper_target_entropy',
            'health/global_target_entropy', 'health/hyper_kl', 'health/global_kl')))
    print(f'  torch threads    {threads} (load average {os.getloadavg()[0]:.1f} on '
          f'{os.cpu_count()} cores at the end)')
    print(f'  wall time        {wall:.0f} s ({wall / 60:.1f} min)')
    print('  plots            ' + '\n                   '.join(plots))
    print(f'  logs             {scalars["CGH"]}\n                   {scalars["MoCo"]}')
    print('=' * 72)


if __name__ == '__main__':
    main()
