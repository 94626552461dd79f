"""Loader sizing of training configs: CPUs, shared and pinned memory per GPU.

    python tools/analysis/loader_sizing.py CONFIG [CONFIG ...]

For each config's train dataloader: the batch its pipeline makes (run on one generated
500x375 JPEG: views, their sizes and bytes), the CPUs one GPU's training process needs
(``num_workers`` loader processes, the process itself and its pin-memory thread) against
the CPUs per task of ``tools/slurm_train.sh`` (its default, or ``CPUS_PER_TASK``), and
upper bounds of the memory its batches in flight hold per GPU: PyTorch's DataLoader keeps
``num_workers x prefetch_factor`` batches requested, made in shared memory (``/dev/shm``);
with ``pin_memory`` each is copied to page-locked memory as it arrives (torch's pinned
allocator rounds every tensor up to a power of two and caches the blocks), and the batch
of the step and the one being fetched add two more. Arithmetic on the configs, not a
measurement; ``gpu_check.py`` measures the loader.
"""
import argparse
import os
import re
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from PIL import Image
from sklearn.datasets import load_sample_images

import cgh_mm.datasets  # noqa: F401  (registers the transforms)
from cgh_mm.datasets.loader_memory import memory_in_flight

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLURM_TRAIN = os.path.join(ROOT, 'tools', 'slurm_train.sh')
GPUS_PER_NODE = 8


def slurm_cpus_per_task() -> int:
    """``CPUS_PER_TASK`` if set, else the default of ``tools/slurm_train.sh``."""
    if os.environ.get('CPUS_PER_TASK'):
        return int(os.environ['CPUS_PER_TASK'])
    with open(SLURM_TRAIN) as f:
        return int(re.search(r'CPUS_PER_TASK:-(\d+)', f.read()).group(1))


def cpus_per_gpu(num_workers: int) -> int:
    """CPUs one GPU's training process keeps busy: its loader workers, itself (the
    Python loop that launches the GPU's work) and, with workers, its pin-memory thread."""
    return num_workers + 1 + (num_workers > 0)


def batch_tensor_bytes(cfg: Config) -> List[int]:
    """Bytes of each input tensor of a batch of ``cfg.train_dataloader`` (one per view),
    from its pipeline run on one generated 500x375 JPEG."""
    loader = cfg.train_dataloader
    pipeline = list(loader.dataset.pipeline)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, 'photo.jpg')
        Image.fromarray(load_sample_images().images[0][:375, :500]).save(path, quality=90)
        if 'LoadImage' in pipeline[0]['type']:
            sample = dict(img_path=path)
        else:  # datasets held in memory (CIFAR, ...) hand over arrays
            img = np.asarray(Image.open(path))[..., ::-1].copy()
            sample = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])
        init_default_scope(cfg.get('default_scope', 'mmpretrain'))
        inputs = Compose(pipeline)(sample)['inputs']
    views = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return [loader.batch_size * view.nbytes for view in views]


def sizing(cfg: Config) -> Dict[str, object]:
    """The figures of the module docstring for one config."""
    loader = cfg.train_dataloader
    workers = loader.get('num_workers', 0)
    prefetch = loader.get('prefetch_factor', None)
    pin = bool(loader.get('pin_memory', False))
    tensor_bytes = batch_tensor_bytes(cfg)
    return dict(batch_size=loader.batch_size, num_workers=workers,
                prefetch_factor=prefetch or (2 if workers else None), pin_memory=pin,
                views=len(tensor_bytes), cpus=cpus_per_gpu(workers),
                **memory_in_flight(tensor_bytes, workers, prefetch, pin))


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('configs', nargs='+')
    args = parser.parse_args(argv)
    cpus_per_task = slurm_cpus_per_task()
    print(f'tools/slurm_train.sh: {cpus_per_task} CPUs per task (one task per GPU); '
          f'memory per GPU and per node of {GPUS_PER_NODE} GPUs (1 GB = 1e9 B)')
    names = [os.path.relpath(p, ROOT) if os.path.isabs(p) else p for p in args.configs]
    width = max(map(len, names + ['config'])) + 2
    print(f'{"config":<{width}}{"batch":>6}{"views":>6}{"MB/batch":>9}{"workers":>8}'
          f'{"prefetch":>9}{"CPUs/GPU":>9}{"shm GB":>8}{"pinned GB":>10}{"node shm":>9}'
          f'{"node pinned":>12}')
    for path, name in zip(args.configs, names):
        row = sizing(Config.fromfile(path))
        fits = '' if row['cpus'] <= cpus_per_task else (
            f'  needs CPUS_PER_TASK >= {row["cpus"]}')
        print(f'{name:<{width}}{row["batch_size"]:>6}{row["views"]:>6}{row["batch"] / 1e6:>9.2f}'
              f'{row["num_workers"]:>8}{str(row["prefetch_factor"]):>9}{row["cpus"]:>9}'
              f'{row["shared"] / 1e9:>8.2f}{row["pinned"] / 1e9:>10.2f}'
              f'{GPUS_PER_NODE * row["shared"] / 1e9:>9.1f}'
              f'{GPUS_PER_NODE * row["pinned"] / 1e9:>12.1f}{fits}')


if __name__ == '__main__':
    main()
