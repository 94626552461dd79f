"""Loader benchmark: CPU cost of the two-view pipelines, and the device cost of the split.

On real JPEG photos (the two that ship with scikit-learn, cropped and resized to a spread
of ImageNet image sizes and re-encoded, in a temporary folder), measures in one run the
CPU-side two-view samples per second per core (samples per CPU-second of this process)
of:

  (a) mmpretrain's MoCo v2 two-view pipeline, as in its config;
  (b) the project's ImageNet pipeline, all on the CPU (configs/_base_/datasets/imagenet_cgh.py);
  (c) the split pipeline, decode + crop + flip only (imagenet_cgh_device-aug.py);

round-robin, so the three share the machine's state; then the CPU cost of a JPEG decode
per mmcv backend (cv2, pillow, and turbojpeg where PyTurboJPEG is installed), the
device-side cost per sample of (c)'s ViewAugmentDataPreprocessor on ``--device``, and,
last, ``ratio: X`` = (c) / (a) samples per core.

    OMP_NUM_THREADS=1 python tools/analysis/loader_benchmark.py [--device cuda]
"""
import argparse
import importlib.util
import os
import statistics
import tempfile
import time
from typing import Callable, Dict, List

import mmcv
import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, default_collate
from mmengine.registry import init_default_scope
from mmengine.utils import get_installed_path
from mmpretrain.registry import MODELS
from PIL import Image
from sklearn.datasets import load_sample_images

import cgh_mm.datasets  # noqa: F401  (registers the transforms)
import cgh_mm.models  # noqa: F401  (registers the preprocessor)
from cgh_mm.evaluation.feature_sets import checked_device, default_device, device_name

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATASETS = os.path.join(ROOT, 'configs', '_base_', 'datasets')
# mmpretrain's MoCo v2 dataset config, as installed with it
MOCO_CONFIG = os.path.join(get_installed_path('mmpretrain'), '.mim', 'configs', '_base_',
                           'datasets', 'imagenet_bs32_mocov2.py')
# (width, height) of common ImageNet train images: 500x375 (the most frequent),
# 500x333, 375x500, 333x500, 500x500, 400x300, 640x480, 800x600.
IMAGENET_SIZES = ((500, 375), (500, 333), (375, 500), (333, 500), (500, 500), (400, 300),
                  (640, 480), (800, 600))


def make_photos(folder: str, num_images: int, seed: int = 0) -> List[str]:
    """``num_images`` JPEGs (quality 90) cut from scikit-learn's sample photos: a random
    box of 40-100% of a photo's sides, resized to one of ``IMAGENET_SIZES`` in turn."""
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    paths = []
    for i in range(num_images):
        photo = photos[i % len(photos)]
        h, w = photo.shape[:2]
        bh, bw = (int(s * rng.uniform(0.4, 1.0)) for s in (h, w))
        y, x = rng.integers(0, h - bh + 1), rng.integers(0, w - bw + 1)
        size = IMAGENET_SIZES[i % len(IMAGENET_SIZES)]
        image = Image.fromarray(photo[y:y + bh, x:x + bw]).resize(size, Image.BICUBIC)
        paths.append(os.path.join(folder, f'{i:04d}.JPEG'))
        image.save(paths[-1], quality=90)
    return paths


def pipelines() -> Dict[str, Callable]:
    """The three train pipelines, by label, from their configs."""
    moco = Config.fromfile(MOCO_CONFIG).train_pipeline
    project = Config.fromfile(os.path.join(DATASETS, 'imagenet_cgh.py')).train_pipeline
    split = Config.fromfile(os.path.join(DATASETS, 'imagenet_cgh_device-aug.py')).train_pipeline
    return {'(a) mmpretrain MoCo v2': Compose(moco),
            '(b) project ImageNet, all CPU': Compose(project),
            '(c) split: decode+crop+flip': Compose(split)}


def cpu_rates(pipes: Dict[str, Callable], paths: List[str], samples: int,
              rounds: int) -> Dict[str, float]:
    """Median over ``rounds`` of samples per CPU-second, each round running every
    pipeline on ``samples`` samples (the photos in turn)."""
    rates: Dict[str, List[float]] = {name: [] for name in pipes}
    for _ in range(rounds):
        for name, pipe in pipes.items():
            start = time.process_time()
            for i in range(samples):
                pipe(dict(img_path=paths[i % len(paths)]))
            rates[name].append(samples / (time.process_time() - start))
    return {name: statistics.median(r) for name, r in rates.items()}


def decode_costs(paths: List[str], repeats: int) -> Dict[str, float]:
    """CPU milliseconds per JPEG decode of ``mmcv.imfrombytes`` per backend (what
    ``LoadImageFromFile(imdecode_backend=...)`` uses); turbojpeg only where PyTurboJPEG
    is installed."""
    backends = ['cv2', 'pillow']
    if importlib.util.find_spec('turbojpeg') is not None:
        backends.append('turbojpeg')
    data = [open(path, 'rb').read() for path in paths]
    costs = {}
    for backend in backends:
        start = time.process_time()
        for _ in range(repeats):
            for blob in data:
                mmcv.imfrombytes(blob, backend=backend)
        costs[backend] = 1000 * (time.process_time() - start) / (repeats * len(data))
    return costs


def device_cost(pipe: Callable, paths: List[str], batch_size: int, device: torch.device,
                repeats: int) -> float:
    """Milliseconds per sample of the split's ViewAugmentDataPreprocessor (training
    forward) on ``device``, on a batch of ``batch_size`` samples from ``pipe``."""
    cfg = Config.fromfile(os.path.join(DATASETS, 'imagenet_cgh_device-aug.py'))
    model_cfg = Config.fromfile(os.path.join(ROOT, 'configs', '_base_', 'models', 'cgh_r50.py'))
    preprocessor_cfg = dict(model_cfg.model.data_preprocessor)
    preprocessor_cfg.update(cfg.view_augment_preprocessor)
    preprocessor = MODELS.build(preprocessor_cfg).to(device)
    batch = default_collate([pipe(dict(img_path=paths[i % len(paths)]))
                             for i in range(batch_size)])
    sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)
    preprocessor(batch, training=True)  # warm-up
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        preprocessor(batch, training=True)
        sync()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times) / batch_size


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=24, help='photos to generate')
    parser.add_argument('--samples', type=int, default=60, help='samples per pipeline per round')
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--device', default=default_device())
    parser.add_argument('--batch-size', type=int, default=64, help='device-side batch')
    parser.add_argument('--device-repeats', type=int, default=5)
    args = parser.parse_args(argv)
    try:
        device = checked_device(args.device)
    except SystemExit as refused:  # before any measurement, as a usage error
        parser.error(str(refused))
    init_default_scope('mmpretrain')

    with tempfile.TemporaryDirectory() as folder:
        paths = make_photos(folder, args.num_images)
        pipes = pipelines()
        print(f'{len(paths)} JPEG photos, sizes {sorted(set(IMAGENET_SIZES[:len(paths)]))}; '
              f'{args.samples} samples x {args.rounds} rounds per pipeline; '
              f'torch threads {torch.get_num_threads()}')
        rates = cpu_rates(pipes, paths, args.samples, args.rounds)
        for name, rate in rates.items():
            print(f'{name:34s} {rate:7.1f} samples/s/core  {1000 / rate:6.2f} ms/sample (CPU)')
        decode = decode_costs(paths, args.rounds)
        print('JPEG decode: ' + ', '.join(f'{backend} {ms:.2f} ms' for backend, ms in
                                          decode.items()) + ' per image (CPU)')
        split_pipe = list(pipes.values())[2]
        cost = device_cost(split_pipe, paths, args.batch_size, device,
                           args.device_repeats)
        print(f'device side of (c): {cost:.3f} ms/sample on {device_name(device)}, '
              f'batch {args.batch_size}')
    names = list(rates)
    print(f'ratio: {rates[names[2]] / rates[names[0]]:.2f}')


if __name__ == '__main__':
    main()
