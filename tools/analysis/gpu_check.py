"""The first command to run on a GPU: speed, memory and AMP correctness of CGH, in one run.

    python tools/analysis/gpu_check.py                     # about 5 min on one GPU
    python tools/analysis/gpu_check.py --data-root data/imagenet   # loader on your images

At ResNet-50, 224 px and queues of 131072 it measures, in this one run: the training-step
images/s and peak memory of CGH and of mmpretrain's MoCo v2 at 32 images per GPU, in float32
and with AMP (float16, bfloat16) + channels_last, and at the largest batch that fits; the
supervised training images/s of the plain ResNet-50 at the same batch (the ceiling of a
two-view method: 3/4 of it); the samples/s of the ImageNet training loader; the error of
CGH's losses and targets under AMP against float32; with >= 2 GPUs, whether the queues,
pointers and teachers are equal on every rank after a few DDP steps. It needs CUDA.
"""
import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CGH_CONFIG = os.path.join(ROOT, 'configs', '_base_', 'models', 'cgh_r50.py')
MOCO_CONFIG = 'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
DATA_CONFIG = os.path.join(ROOT, 'configs', '_base_', 'datasets', 'imagenet_cgh.py')
# (label, AMP dtype or None, channels_last)
SETTINGS = [('float32', None, False), ('AMP float16 + channels_last', 'float16', True),
            ('AMP bfloat16 + channels_last', 'bfloat16', True)]
NEEDS_CUDA = ('gpu_check.py needs a CUDA GPU: torch.cuda.is_available() is False here (torch '
              '{torch}, built for CUDA {cuda}). Run it on a GPU machine with a CUDA build of '
              'torch; on CPU, measure with tools/analysis/benchmark.py --device cpu.')


def model_configs(queue_len: int) -> Dict[str, dict]:
    """``model`` configs of CGH, MoCo v2 (the same preprocessing) and the supervised
    ResNet-50 of the same backbone."""
    cgh = Config.fromfile(CGH_CONFIG).model.to_dict()
    moco = get_config(MOCO_CONFIG).model.to_dict()
    cgh.update(queue_len=queue_len)
    moco.update(queue_len=queue_len, data_preprocessor=cgh['data_preprocessor'])
    backbone = dict(
        type='ImageClassifier', backbone=dict(cgh['backbone'], out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=2048,
                  loss=dict(type='CrossEntropyLoss')),
        data_preprocessor=dict(type='ClsDataPreprocessor', **{
            k: cgh['data_preprocessor'][k] for k in ('mean', 'std', 'to_rgb')}))
    return dict(CGH=cgh, MoCo=moco, backbone=backbone)


def build_step(model_cfg: dict, batch: int, resolution: int, device: str,
               amp: Optional[str] = None, channels_last: bool = False) -> Callable:
    """``step()``: one ``train_step`` of the model of ``model_cfg`` on a fixed batch (two
    views for a self-supervised model, one view and labels for a classifier)."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = MODELS.build(model_cfg).to(device, memory_format=memory_format).train()
    optim_wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper' if amp else 'OptimWrapper', **(dict(dtype=amp) if amp else {}),
        optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4)))
    generator = torch.Generator().manual_seed(0)

    def images() -> torch.Tensor:
        return (torch.rand(batch, 3, resolution, resolution, generator=generator) * 255).to(
            device, memory_format=memory_format)

    samples = [DataSample().set_gt_label(i % 1000) for i in range(batch)]
    supervised = model_cfg['type'] == 'ImageClassifier'
    data = dict(inputs=images() if supervised else [images(), images()], data_samples=samples)
    return lambda: model.train_step(data, optim_wrapper)


def measure(step_factory: Callable[[], Callable], batch: int, device: str, warmup: int = 3,
            steps: int = 10) -> Tuple[float, Optional[int]]:
    """``(images/s, peak bytes)`` of a step: the median of ``steps`` timed steps after
    ``warmup``; the peak (CUDA only, else None) counts the model, optimizer and step."""
    cuda = device.startswith('cuda')
    if cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    step = step_factory()
    times = []
    for i in range(warmup + steps):
        torch.get_device_module(device).synchronize()
        start = time.perf_counter()
        step()
        torch.get_device_module(device).synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() - before if cuda else None
    del step
    return batch / statistics.median(times), peak


def largest_batch(step_factory: Callable[[int], Callable], start: int, limit: int,
                  device: str) -> Tuple[int, float, Optional[int]]:
    """``(batch, images/s, peak bytes)`` at the largest power-of-two multiple of ``start``
    up to ``limit`` whose step runs without running out of memory."""
    best = None
    batch = start
    while batch <= limit:
        try:
            best = (batch, *measure(lambda b=batch: step_factory(b), batch, device, 1, 3))
        except torch.OutOfMemoryError:
            break
        batch *= 2
    if best is None:
        raise RuntimeError(f'even a batch of {start} does not fit on {device}')
    return best


def relation_errors(device: str, amp_dtype: torch.dtype, batch: int = 32, feat_dim: int = 512,
                    queue_len: int = 131072) -> Dict[str, float]:
    """Relative errors under ``autocast(amp_dtype)`` against float32, on the same float32
    embeddings and queues: CGH's head losses and teacher targets (``loss``, ``target``),
    and, for scale, a plain autocast product (``plain product``, what AMP would do to
    relations that are not kept in float32)."""
    from cgh_mm.models.losses import relation_logits, relation_target
    generator = torch.Generator().manual_seed(0)

    def unit(n: int) -> torch.Tensor:
        return F.normalize(torch.randn(n, feat_dim, generator=generator), dim=1).to(device)

    student, teacher, queues = [unit(batch), unit(batch)], [unit(batch), unit(batch)], \
        [unit(queue_len), unit(queue_len)]
    head = MODELS.build(dict(type='CrossContextHead'))
    expected = head.loss(*student, *teacher, *queues)
    target = relation_target(relation_logits(teacher[0], queues[0]), 0.04)
    with torch.autocast(device_type=torch.device(device).type, dtype=amp_dtype):
        got = head.loss(*student, *teacher, *queues)
        got_target = relation_target(relation_logits(teacher[0], queues[0]), 0.04)
        plain = relation_target(teacher[0] @ queues[0].T, 0.04)

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return ((a.float() - b).abs().max() / b.abs().max()).item()

    return {'loss': max(rel(got[k], expected[k]) for k in ('loss_hyper', 'loss_global')),
            'target': rel(got_target, target), 'plain product': rel(plain, target)}


def loader_samples_per_s(data_root: Optional[str], batches: int, num_workers: int) -> float:
    """Samples/s of the ImageNet training loader of the configs (its pipeline and
    ``num_workers``) over ``batches`` batches after a warm-up batch, on ``data_root`` (an
    mmpretrain ImageNet folder) or on 640 JPEGs cut from scikit-learn's sample photos."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(DATA_CONFIG).train_dataloader
    cfg.num_workers, cfg.persistent_workers = num_workers, num_workers > 0
    # pinned memory only serves copies to a GPU (torch warns that it is unused otherwise)
    cfg.pin_memory = cfg.get('pin_memory', False) and torch.cuda.is_available()
    with tempfile.TemporaryDirectory() as tmp:
        if data_root:
            cfg.dataset.data_root = data_root
        else:
            from PIL import Image
            from sklearn.datasets import load_sample_images
            rng = torch.Generator().manual_seed(0)
            photos = load_sample_images().images  # two 427 x 640 photos
            for i in range(640):
                photo = photos[i % 2]
                y, x = (int(torch.randint(0, s - 360, (1, ), generator=rng)) for s in
                        photo.shape[:2])
                Image.fromarray(photo[y:y + 360, x:x + 270 + i % 200]).save(
                    os.path.join(tmp, f'{i:04d}.jpg'), quality=90)
            cfg.dataset = dict(type='CustomDataset', data_root=tmp, with_label=False,
                               pipeline=cfg.dataset.pipeline)
        loader = Runner.build_dataloader(cfg, seed=0)
        iterator = iter(loader)
        next(iterator)  # worker start-up
        start, seen = time.perf_counter(), 0
        for _ in range(batches):
            try:
                seen += len(next(iterator)['data_samples'])
            except StopIteration:
                iterator = iter(loader)
        return seen / (time.perf_counter() - start)


def _rank_agreement_worker(rank: int, world_size: int, port: int, steps: int,
                           backend: str, model_cfg: dict, batch: int, resolution: int,
                           results: 'torch.multiprocessing.SimpleQueue') -> None:
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    dist.init_process_group(backend, init_method=f'tcp://127.0.0.1:{port}', rank=rank,
                            world_size=world_size)
    device = f'cuda:{rank}' if backend == 'nccl' else 'cpu'
    if backend == 'nccl':
        torch.cuda.set_device(rank)
    init_default_scope('mmpretrain')
    import cgh_mm.models  # noqa: F401  (registers CGH)
    torch.manual_seed(0)  # one seed for the model on every rank, as mmengine's Runner does
    model = MODELS.build(model_cfg).to(device).train()
    torch.manual_seed(1 + rank)  # different data per rank
    ddp = DistributedDataParallel(model, device_ids=[rank] if backend == 'nccl' else None,
                                  broadcast_buffers=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9)
    for _ in range(steps):
        views = [torch.randn(batch, 3, resolution, resolution, device=device) for _ in range(2)]
        losses = ddp(views, [DataSample() for _ in range(batch)], mode='loss')
        optimizer.zero_grad()
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        optimizer.step()
    state = model.state_dict()  # writes the last step's keys
    mine = torch.cat([state['global_queue'].float().flatten(),
                      state['hypercolumn_queue'].float().flatten(),
                      state['queue_ptr'].float(),
                      *[p.flatten() for p in model.teacher.module.parameters()]])
    gathered = [torch.empty_like(mine) for _ in range(world_size)]
    dist.all_gather(gathered, mine)
    if rank == 0:
        results.put(dict(ptr=int(state['queue_ptr']),
                         max_diff=max((g - mine).abs().max().item() for g in gathered)))
    dist.destroy_process_group()


def rank_agreement(world_size: int, model_cfg: dict, batch: int, resolution: int,
                   steps: int = 3, backend: str = 'nccl') -> Dict[str, float]:
    """After ``steps`` DDP steps of CGH on ``world_size`` processes (different data per
    rank): ``ptr`` (rank 0's queue pointer) and ``max_diff``, the largest
    difference of the queues, pointer and teacher of any rank from rank 0's (0: equal)."""
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    ctx = mp.get_context('spawn')
    results = ctx.SimpleQueue()
    mp.start_processes(_rank_agreement_worker, nprocs=world_size, start_method='spawn',
                       args=(world_size, port, steps, backend, model_cfg, batch, resolution,
                             results))
    return results.get()


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--batch', type=int, default=32, help='images per GPU')
    parser.add_argument('--max-batch', type=int, default=1024,
                        help='largest batch tried when looking for the largest that fits')
    parser.add_argument('--resolution', type=int, default=224)
    parser.add_argument('--queue-len', type=int, default=131072)
    parser.add_argument('--steps', type=int, default=10, help='timed steps per measurement')
    parser.add_argument('--data-root', help='ImageNet folder for the loader measurement '
                        '(default: JPEGs cut from scikit-learn\'s sample photos)')
    parser.add_argument('--loader-batches', type=int, default=20)
    parser.add_argument('--num-workers', type=int, default=8, help='loader worker processes')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not torch.cuda.is_available():
        sys.exit(NEEDS_CUDA.format(torch=torch.__version__, cuda=torch.version.cuda))
    init_default_scope('mmpretrain')
    import cgh_mm.models  # noqa: F401  (registers CGH)
    device = 'cuda'
    cfgs = model_configs(args.queue_len)
    print(f'{torch.cuda.get_device_name()}, {torch.cuda.device_count()} GPU(s), torch '
          f'{torch.__version__}, CUDA {torch.version.cuda}, cuDNN '
          f'{torch.backends.cudnn.version()}; TF32: convolutions '
          f'{torch.backends.cudnn.allow_tf32}, matmuls {torch.backends.cuda.matmul.allow_tf32} '
          f'(relations are float32 matmuls: TF32 there would round them)')
    print(f'ResNet-50, {args.resolution} px, queues of {args.queue_len}')
    torch.backends.cudnn.benchmark = True
    print(f'{"setting":<30}{"model":<10}{"batch":>6}{"img/s":>9}{"peak GiB":>10}')
    rows: Dict[Tuple[str, str], Tuple[int, float, Optional[int]]] = {}

    def show(label: str, name: str, batch: int, rate: float, peak: Optional[int]) -> None:
        rows[label, name] = (batch, rate, peak)
        print(f'{label:<30}{name:<10}{batch:>6}{rate:>9.1f}{peak / 2**30:>10.2f}')

    for label, amp, channels_last in SETTINGS:
        for name, cfg in cfgs.items():
            rate, peak = measure(functools.partial(
                build_step, cfg, args.batch, args.resolution, device, amp, channels_last),
                args.batch, device, steps=args.steps)
            show(label, name, args.batch, rate, peak)
    label, amp, channels_last = SETTINGS[2]
    for name in ('CGH', 'MoCo'):
        batch, rate, peak = largest_batch(
            lambda b, c=cfgs[name]: build_step(c, b, args.resolution, device, amp,
                                               channels_last), args.batch, args.max_batch, device)
        show(f'{label}, largest batch', name, batch, rate, peak)

    for label, _, _ in SETTINGS[1:]:
        cgh, moco, backbone = (rows[label, n] for n in ('CGH', 'MoCo', 'backbone'))
        print(f'{label}: CGH/MoCo img/s {cgh[1] / moco[1]:.2f} (goal >= 0.9), CGH/backbone '
              f'img/s {cgh[1] / backbone[1]:.2f} (goal >= 0.65, ceiling 0.75), CGH/MoCo peak '
              f'memory {cgh[2] / moco[2]:.2f} (goal <= 1.45)')
    loader_rate = loader_samples_per_s(args.data_root, args.loader_batches, args.num_workers)
    print(f'loader: {loader_rate:.0f} samples/s ({args.num_workers} workers, '
          f'{args.data_root or "JPEGs from scikit-learn sample photos"})')
    for dtype in (torch.float16, torch.bfloat16):
        errors = relation_errors(device, dtype, args.batch, queue_len=args.queue_len)
        print(f'AMP {str(dtype)[6:]} relative error vs float32: losses {errors["loss"]:.1e}, '
              f'targets {errors["target"]:.1e} (a plain autocast product: '
              f'{errors["plain product"]:.1e})')
    if torch.cuda.device_count() >= 2:
        world = torch.cuda.device_count()
        res = rank_agreement(world, cfgs['CGH'], args.batch, args.resolution)
        verdict = 'equal' if res['max_diff'] == 0 else f'DIFFERENT (max {res["max_diff"]:.2e})'
        print(f'{world} ranks, 3 DDP steps: queues, pointer ({res["ptr"]}) and teacher '
              f'{verdict} on every rank')
    else:
        print('1 GPU: the check of queue/pointer equality across ranks needs >= 2')


if __name__ == '__main__':
    main()
