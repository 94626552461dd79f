"""The first command to run on a GPU: speed, memory and AMP error of CGH as its recipe runs.

    python tools/analysis/gpu_check.py                     # on one or more GPUs
    python tools/analysis/gpu_check.py --data-root data/imagenet   # loader on your images
    python tools/analysis/gpu_check.py --dry-run           # every section on the CPU, tiny

It measures what the ImageNet recipe (``--config``, default
configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py) runs, in one run, section by section:

- training step: images/s and peak memory of the recipe's CGH (its model config: the
  ViewAugmentDataPreprocessor of configs/_base_/datasets/imagenet_cgh_device-aug.py, which
  applies the colour augmentations on the GPU), of mmpretrain's MoCo v2 (colours on the
  loader's CPU: its preprocessor only normalises) and of the supervised ResNet of the same
  backbone (the ceiling of a two-view method: 3/4 of its images/s), in float32 and with
  AMP (float16, bfloat16) + channels_last; each step copies the uint8 views of a batch from
  pinned memory, as the recipe's loader hands them over;
- largest batch: CGH and MoCo v2 at the largest power-of-two multiple of the batch that fits;
- loader: samples/s of the recipe's train dataloader (the split pipeline: decode, crop and
  flip on the CPU) and the memory its batches in flight hold;
- AMP error: the relative error under autocast against float32 of the recipe's model, on the
  same batch: augmented views, student and teacher embeddings, CGH's losses and targets;
- ranks: with >= 2 GPUs, whether the queues, pointer and teacher are equal on every rank after
  a few DDP steps of the recipe's train step (NCCL).

The CUDA cache is emptied after each section. ``--dry-run`` runs every section on the CPU
with a tiny model (ResNet-18 at 16 channels, 32 px, queues of 64, batches of 8; two gloo
processes for the ranks): the same code, only the device and the sizes differ, so its
figures check the journey, they measure nothing of a GPU. Without ``--dry-run`` it needs CUDA.
"""
import argparse
import contextlib
import copy
import gc
import os
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, Iterator, Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import cgh_mm.datasets  # noqa: F401  (the loader's transforms: LoadImageFromFileChecked, ...)
import cgh_mm.models  # noqa: F401  (CGH, its DDP wrapper, ViewAugmentDataPreprocessor)
from cgh_mm.datasets.loader_memory import memory_in_flight
from cgh_mm.engine.rank_agreement import loader_views, rank_agreement
from cgh_mm.evaluation.feature_sets import device_name
from cgh_mm.models.utils import relation_logits, relation_target

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECIPE = os.path.join(ROOT, 'configs', 'cgh', 'cgh_resnet50_8xb32-coslr-200e_in1k.py')
MOCO_CONFIG = 'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
# (label, AMP dtype or None, channels_last)
SETTINGS = [('float32', None, False), ('AMP float16 + channels_last', 'float16', True),
            ('AMP bfloat16 + channels_last', 'bfloat16', True)]
# The GPU run's sizes (None: the recipe's), and the dry run's.
SIZES = dict(batch=None, max_batch=1024, resolution=224, queue_len=None, steps=10, warmup=3,
             loader_batches=20, num_workers=None)
DRY_RUN_SIZES = dict(batch=8, max_batch=16, resolution=32, queue_len=64, steps=1, warmup=1,
                     loader_batches=2, num_workers=1)
NEEDS_CUDA = ('gpu_check.py needs a CUDA GPU: torch.cuda.is_available() is False here (torch '
              '{torch}, built for CUDA {cuda}). Run it on a GPU machine with a CUDA build of '
              'torch; --dry-run runs every section on the CPU at tiny sizes (a check of the '
              'code path, no GPU figure); to measure the CPU, use tools/analysis/benchmark.py '
              '--device cpu.')
# Near the memory limit cuDNN fails to find a convolution engine whose workspace fits,
# and says so with this RuntimeError (e.g. "FIND was unable to find an engine to execute
# this computation") instead of torch's OutOfMemoryError.
CUDNN_NO_ENGINE = 'unable to find an engine'


def tiny_model_cfg(model_cfg: dict) -> dict:
    """The dry run's version of a CGH or MoCo ``model`` config: ResNet-18 at 16 channels
    (layer3 64, layer4 128 channels), 64-wide necks, 32-d embeddings; the rest (data
    preprocessor, head, temperatures, channels_last) as given."""
    cfg = copy.deepcopy(model_cfg)
    cfg['backbone'].update(depth=18, base_channels=16, stem_channels=16)
    cfg['neck'].update(in_channels=128, hid_channels=64, out_channels=32)
    cfg['feat_dim'] = 32
    if cfg.get('hypercolumn_neck'):
        cfg['hypercolumn_neck'].update(in_channels=(64, 128), conv_channels=64,
                                       hid_channels=64, out_channels=32)
    return cfg


def model_configs(cfg: Config, queue_len: int, tiny: bool = False) -> Dict[str, dict]:
    """``model`` configs of the recipe's CGH, mmpretrain's MoCo v2 (its preprocessor
    normalises as CGH's, its colour augmentations are the loader's) and the supervised
    classifier of CGH's backbone; ``tiny``: the dry run's sizes."""
    cgh = cfg.model.to_dict()
    moco = get_config(MOCO_CONFIG).model.to_dict()
    cgh.update(queue_len=queue_len)
    moco.update(queue_len=queue_len, data_preprocessor=dict(
        type='SelfSupDataPreprocessor', **{k: cgh['data_preprocessor'][k] for k in (
            'mean', 'std', 'to_rgb', 'non_blocking') if k in cgh['data_preprocessor']}))
    if tiny:
        cgh, moco = tiny_model_cfg(cgh), tiny_model_cfg(moco)
    backbone = dict(
        type='ImageClassifier', backbone=dict(cgh['backbone'], out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=1000, in_channels=cgh['neck']['in_channels'],
                  loss=dict(type='CrossEntropyLoss')),
        data_preprocessor=dict(type='ClsDataPreprocessor', **{
            k: cgh['data_preprocessor'][k] for k in ('mean', 'std', 'to_rgb')}))
    return dict(CGH=cgh, MoCo=moco, backbone=backbone)


class CPUAutocastOptimWrapper(OptimWrapper):
    """The dry run's ``AmpOptimWrapper`` (mmengine's runs on GPUs only): the step's
    preprocessing, forward and loss under ``torch.autocast('cpu', dtype)``; no loss
    scaling, which guards float16 gradients on a GPU and does nothing on the CPU."""

    def __init__(self, dtype: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cast_dtype = getattr(torch, dtype)

    @contextlib.contextmanager
    def optim_context(self, model: torch.nn.Module) -> Iterator[None]:
        with super().optim_context(model), torch.autocast('cpu', dtype=self.cast_dtype):
            yield


def optim_wrapper_for(model: torch.nn.Module, device: torch.device,
                      amp: Optional[str] = None) -> OptimWrapper:
    """The recipe's SGD in mmengine's ``OptimWrapper``, or ``AmpOptimWrapper(dtype=amp)``
    (on the CPU: :class:`CPUAutocastOptimWrapper`)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    if amp is None:
        return OptimWrapper(optimizer=optimizer)
    if device.type == 'cuda':
        return AmpOptimWrapper(dtype=amp, optimizer=optimizer)
    return CPUAutocastOptimWrapper(amp, optimizer=optimizer)


def build_step(model_cfg: dict, batch: int, resolution: int, device: torch.device,
               amp: Optional[str] = None, channels_last: bool = False) -> Callable:
    """``step()``: one ``train_step`` of the model of ``model_cfg`` on a fixed batch of
    uint8 views (two for a self-supervised model; one and labels for a classifier),
    copied to ``device`` by the model's data preprocessor at every step."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = MODELS.build(model_cfg).to(device, memory_format=memory_format).train()
    optim_wrapper = optim_wrapper_for(model, device, amp)
    supervised = model_cfg['type'] == 'ImageClassifier'
    views = loader_views(batch, resolution, 1 if supervised else 2, device,
                         torch.Generator().manual_seed(0))
    samples = [DataSample().set_gt_label(i % 1000) for i in range(batch)]
    data = dict(inputs=views[0] if supervised else views, data_samples=samples)
    step = lambda: model.train_step(data, optim_wrapper)  # noqa: E731
    step.data = data  # what the step is fed, for the tests
    return step


def synchronize(device: torch.device) -> None:
    torch.get_device_module(device.type).synchronize()


def measure(step_factory: Callable[[], Callable], batch: int, device: torch.device,
            warmup: int = 3, steps: int = 10) -> Tuple[float, Optional[int]]:
    """``(images/s, peak bytes)`` of a step: the median of ``steps`` timed steps after
    ``warmup``; the peak (CUDA only, else None) counts the model, optimizer and step."""
    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    step = step_factory()
    times = []
    for i in range(warmup + steps):
        synchronize(device)
        start = time.perf_counter()
        step()
        synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() - before if cuda else None
    del step
    return batch / statistics.median(times), peak


def does_not_fit(error: BaseException) -> bool:
    """Whether ``error`` says that a step did not fit in the device's memory: torch's
    ``OutOfMemoryError``, or cuDNN's RuntimeError of no engine whose workspace fits."""
    return isinstance(error, torch.OutOfMemoryError) or (
        isinstance(error, RuntimeError) and CUDNN_NO_ENGINE in str(error))


def largest_batch(step_factory: Callable[[int], Callable], start: int, limit: int,
                  device: torch.device, warmup: int = 1,
                  steps: int = 3) -> Tuple[int, float, Optional[int], Optional[str]]:
    """``(batch, images/s, peak bytes, why the next batch failed or None)`` at the largest
    power-of-two multiple of ``start`` up to ``limit`` whose step fits. Any other error,
    or a cuDNN engine error at ``start`` itself (then not a matter of size), is raised."""
    best, failure, batch = None, None, start
    while batch <= limit:
        try:
            best = (batch, *measure(lambda b=batch: step_factory(b), batch, device, warmup,
                                    steps))
        except (torch.OutOfMemoryError, RuntimeError) as error:
            if not does_not_fit(error) or (best is None and CUDNN_NO_ENGINE in str(error)):
                raise
            failure = f'{batch}: {type(error).__name__}: {str(error).splitlines()[0][:120]}'
            break  # the failed step's tensors go with the error, at the end of this block
        batch *= 2
    if best is None:
        raise RuntimeError(f'even a batch of {start} does not fit on {device} ({failure})')
    return (*best, failure)


def free_device_memory(device: torch.device) -> None:
    """Collect what the last section left and, on a GPU, hand the CUDA cache back to the
    driver: the next section (or a rank process on the same GPU) starts from empty."""
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def jpeg_folder(folder: str, num_images: int) -> None:
    """``num_images`` JPEGs of 360 x 270-470 px cut from scikit-learn's sample photos."""
    from PIL import Image
    from sklearn.datasets import load_sample_images
    generator = torch.Generator().manual_seed(0)
    photos = load_sample_images().images  # two 427 x 640 photos
    for i in range(num_images):
        photo = photos[i % 2]
        y, x = (int(torch.randint(0, s - 360, (1, ), generator=generator))
                for s in photo.shape[:2])
        Image.fromarray(photo[y:y + 360, x:x + 270 + i % 200]).save(
            os.path.join(folder, f'{i:04d}.jpg'), quality=90)


def pipeline_summary(pipeline: Sequence[dict]) -> str:
    """``LoadImageFromFileChecked, MultiView(A+B | C+D), PackInputs``: the transforms of
    a pipeline, those of each view of a ``MultiView``."""
    def name(step: dict) -> str:
        if step['type'] != 'MultiView':
            return step['type']
        views = ' | '.join('+'.join(t['type'] for t in view) for view in step['transforms'])
        return f'MultiView({views})'

    return ', '.join(map(name, pipeline))


def loader_throughput(loader_cfg: dict, data_root: Optional[str], batch_size: int,
                      num_workers: int, batches: int, device: torch.device) -> Dict[str, object]:
    """Samples/s of a train dataloader config over ``batches`` batches after the first
    (workers' start-up), on ``data_root`` (an mmpretrain ImageNet folder) or on JPEGs cut
    from scikit-learn's sample photos, one epoch's worth; with ``tensor_bytes``, the bytes
    of each input tensor of a batch."""
    from mmengine.runner import Runner
    cfg = copy.deepcopy(loader_cfg)
    cfg.update(batch_size=batch_size, num_workers=num_workers,
               persistent_workers=num_workers > 0 and cfg.get('persistent_workers', False),
               # pinned memory only serves copies to a GPU (torch warns that it is unused)
               pin_memory=cfg.get('pin_memory', False) and device.type == 'cuda')
    if num_workers == 0:
        cfg.pop('prefetch_factor', None)  # PyTorch refuses it without workers
    with tempfile.TemporaryDirectory() as tmp:
        if data_root:
            cfg['dataset']['data_root'] = data_root
        else:
            jpeg_folder(tmp, batch_size * (batches + 1))
            cfg['dataset'] = dict(type='CustomDataset', data_root=tmp, with_label=False,
                                  pipeline=cfg['dataset']['pipeline'])
        loader = Runner.build_dataloader(cfg, seed=0)
        iterator = iter(loader)
        first = next(iterator)  # worker start-up
        start, seen = time.perf_counter(), 0
        for _ in range(batches):
            try:
                seen += len(next(iterator)['data_samples'])
            except StopIteration:
                iterator = iter(loader)
        rate = seen / (time.perf_counter() - start)
        del iterator, loader  # the workers stop here, not at interpreter exit
    inputs = first['inputs']
    views = inputs if isinstance(inputs, (list, tuple)) else [inputs]
    return dict(rate=rate, tensor_bytes=[v.nbytes for v in views], pin_memory=cfg['pin_memory'],
                prefetch_factor=cfg.get('prefetch_factor'))


def relative_error(got: torch.Tensor, expected: torch.Tensor) -> float:
    """``max |got - expected| / max |expected|``."""
    expected = expected.detach().float()
    return ((got.detach().float() - expected).abs().max() / expected.abs().max()).item()


def amp_errors(model_cfg: dict, batch: int, resolution: int, device: torch.device,
               dtype: torch.dtype) -> Dict[str, float]:
    """Relative errors under ``autocast(dtype)`` against float32 of the model of
    ``model_cfg`` (a CGH) on the same uint8 batch, parameters, queues and augmentation
    draws, through what its train step runs under AMP: the data preprocessor (``views``),
    the student's and the teacher's embeddings (both contexts), the losses (the largest
    of ``loss_nce``, ``loss_hyper``, ``loss_global``, at ``alpha=0.5`` so that all are
    computed) and the teacher's global targets; ``plain product``: the targets with the
    relation product left to autocast, the rounding that CGH's float32 relations avoid."""
    torch.manual_seed(0)
    model = MODELS.build(model_cfg).to(device).train()
    model.head.alpha = 0.5
    data = dict(inputs=loader_views(batch, resolution, 2, device,
                                    torch.Generator().manual_seed(0)),
                data_samples=[DataSample() for _ in range(batch)])
    generator = getattr(model.data_preprocessor, 'generator', None)  # augmentation draws
    draws = generator.get_state() if generator is not None else None
    temperature = model.head.teacher_global_temp

    @torch.no_grad()
    def run(enabled: bool) -> Dict[str, torch.Tensor]:
        if generator is not None:
            generator.set_state(draws)
        with torch.autocast(device.type, dtype=dtype, enabled=enabled):
            views = model.data_preprocessor(data, True)['inputs']
            student = model.embed(views[1])
            teacher = model.embed(views[0], teacher=True)
            losses = model.head.loss(*student, *teacher, model.global_queue,
                                     model.hypercolumn_queue)
            plain = relation_target(teacher[0] @ model.global_queue.T.to(teacher[0].dtype),
                                    temperature)
        return dict(views=torch.cat(views), student=torch.cat(student),
                    teacher=torch.cat(teacher), plain=plain,
                    target=relation_target(relation_logits(teacher[0], model.global_queue),
                                           temperature),
                    **{k: v for k, v in losses.items() if k.startswith('loss')})

    expected, got = run(False), run(True)
    return {'views': relative_error(got['views'], expected['views']),
            'student embeddings': relative_error(got['student'], expected['student']),
            'teacher embeddings': relative_error(got['teacher'], expected['teacher']),
            'losses': max(relative_error(got[k], expected[k]) for k in expected
                          if k.startswith('loss')),
            'targets': relative_error(got['target'], expected['target']),
            'plain product': relative_error(got['plain'], expected['target'])}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default=RECIPE, help='the recipe whose model and train '
                        'dataloader are measured (default: the ImageNet recipe)')
    parser.add_argument('--dry-run', action='store_true', help='every section on the CPU at '
                        f'tiny sizes, {DRY_RUN_SIZES}; in about half a minute')
    parser.add_argument('--batch', type=int, help="images per GPU (default: the config's)")
    parser.add_argument('--max-batch', type=int, help='largest batch tried when looking for '
                        f'the largest that fits (default {SIZES["max_batch"]})')
    parser.add_argument('--resolution', type=int,
                        help=f'view size of the steps (default {SIZES["resolution"]})')
    parser.add_argument('--queue-len', type=int, help="default: the config's")
    parser.add_argument('--steps', type=int,
                        help=f'timed steps per measurement (default {SIZES["steps"]})')
    parser.add_argument('--data-root', help='ImageNet folder for the loader measurement '
                        '(default: JPEGs cut from scikit-learn\'s sample photos)')
    parser.add_argument('--loader-batches', type=int,
                        help=f'batches timed (default {SIZES["loader_batches"]})')
    parser.add_argument('--num-workers', type=int,
                        help="loader worker processes (default: the config's)")
    args = parser.parse_args(argv)
    for key, value in (DRY_RUN_SIZES if args.dry_run else SIZES).items():
        if getattr(args, key, None) is None:
            setattr(args, key, value)
    return args


class Check:
    """What the sections share: the arguments, the device, the configs, the step rows."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.device = torch.device('cpu' if args.dry_run else 'cuda')
        self.cfg = Config.fromfile(args.config)
        loader = self.cfg.train_dataloader
        args.batch = args.batch or loader.batch_size
        args.queue_len = args.queue_len or self.cfg.model.queue_len
        if args.num_workers is None:
            args.num_workers = loader.get('num_workers', 0)
        self.models = model_configs(self.cfg, args.queue_len, tiny=args.dry_run)
        self.rows: Dict[Tuple[str, str], Tuple[int, float, Optional[int]]] = {}

    def show(self, label: str, name: str, batch: int, rate: float,
             peak: Optional[int]) -> None:
        self.rows[label, name] = (batch, rate, peak)
        peak_text = '-' if peak is None else f'{peak / 2**30:.2f}'
        print(f'{label:<30}{name:<10}{batch:>6}{rate:>9.1f}{peak_text:>10}', flush=True)


def header(check: Check) -> None:
    args, device = check.args, check.device
    where = device_name(device)
    if device.type == 'cuda':
        where += f', {torch.cuda.device_count()} GPU(s), cuDNN {torch.backends.cudnn.version()}'
    print(f'{where}; torch {torch.__version__}, CUDA {torch.version.cuda}; TF32: convolutions '
          f'{torch.backends.cudnn.allow_tf32}, matmuls {torch.backends.cuda.matmul.allow_tf32} '
          f'(relations are float32 matmuls: TF32 there would round them)')
    if args.dry_run:
        print('DRY RUN on the CPU: ResNet-18 at 16 channels, the same code as on a GPU; '
              'its figures check the code path, they measure no GPU')
    cgh = check.models['CGH']
    print(f'{os.path.relpath(args.config, ROOT)}: ResNet-{cgh["backbone"]["depth"]}, '
          f'{cgh["data_preprocessor"]["type"]}, channels_last={cgh.get("channels_last")}; '
          f'{args.resolution} px, queues of {args.queue_len}, {args.batch} images per step')


def section_training_step(check: Check) -> None:
    args, device = check.args, check.device
    print(f'{"setting":<30}{"model":<10}{"batch":>6}{"img/s":>9}{"peak GiB":>10}')
    for label, amp, channels_last in SETTINGS:
        for name, cfg in check.models.items():
            rate, peak = measure(
                lambda c=cfg, a=amp, cl=channels_last: build_step(
                    c, args.batch, args.resolution, device, a, cl),
                args.batch, device, warmup=args.warmup, steps=args.steps)
            check.show(label, name, args.batch, rate, peak)
    for label, _, _ in SETTINGS[1:]:
        cgh, moco, backbone = (check.rows[label, n] for n in ('CGH', 'MoCo', 'backbone'))
        memory = ('' if cgh[2] is None else
                  f', CGH/MoCo peak memory {cgh[2] / moco[2]:.2f} (goal <= 1.45)')
        print(f'{label}: CGH/MoCo img/s {cgh[1] / moco[1]:.2f} (goal >= 0.9), CGH/backbone '
              f'img/s {cgh[1] / backbone[1]:.2f} (goal >= 0.65, ceiling 0.75){memory}')


def section_largest_batch(check: Check) -> None:
    args, device = check.args, check.device
    label, amp, channels_last = SETTINGS[2]
    print(f'{label}: batches of {args.batch} x 2^n up to --max-batch {args.max_batch}')
    for name in ('CGH', 'MoCo'):
        batch, rate, peak, failure = largest_batch(
            lambda b, c=check.models[name]: build_step(c, b, args.resolution, device, amp,
                                                       channels_last),
            args.batch, args.max_batch, device, warmup=1, steps=min(3, args.steps))
        check.show('largest batch', name, batch, rate, peak)
        print(f'  next batch {failure}' if failure else
              f'  every batch up to --max-batch {args.max_batch} fits')


def section_loader(check: Check) -> None:
    args = check.args
    loader = check.cfg.train_dataloader.to_dict()
    result = loader_throughput(loader, args.data_root, args.batch, args.num_workers,
                               args.loader_batches, check.device)
    memory = memory_in_flight(result['tensor_bytes'], args.num_workers,
                              result['prefetch_factor'], result['pin_memory'])
    images = args.batch * (args.loader_batches + 1)
    print(f'{result["rate"]:.0f} samples/s: {args.num_workers} workers, '
          f'{args.data_root or f"{images} JPEGs cut from scikit-learn sample photos"}; '
          f'pipeline {pipeline_summary(loader["dataset"]["pipeline"])}')
    print(f'batch of {args.batch}: {len(result["tensor_bytes"])} uint8 views, '
          f'{memory["batch"] / 1e6:.2f} MB; batches in flight hold at most '
          f'{memory["shared"] / 1e9:.2f} GB of shared and {memory["pinned"] / 1e9:.2f} GB of '
          f'pinned memory (prefetch_factor {result["prefetch_factor"]}, pin_memory '
          f'{result["pin_memory"]})')


def section_amp_error(check: Check) -> None:
    args = check.args
    for dtype in (torch.float16, torch.bfloat16):
        errors = amp_errors(check.models['CGH'], args.batch, args.resolution, check.device,
                            dtype)
        print(f'AMP {str(dtype)[6:]}, relative error vs float32: ' +
              ', '.join(f'{name} {value:.1e}' for name, value in errors.items()))


def section_ranks(check: Check) -> None:
    args = check.args
    if args.dry_run:
        world, backend = 2, 'gloo'
    elif torch.cuda.device_count() >= 2:
        world, backend = torch.cuda.device_count(), 'nccl'
    else:
        print('1 GPU: the check of queue/pointer equality across ranks needs >= 2')
        return
    steps = 3
    result = rank_agreement(world, check.models['CGH'], args.batch, args.resolution, steps,
                            backend)
    verdict = ('equal' if result['max_diff'] == 0 else
               f'DIFFERENT (max {result["max_diff"]:.2e})')
    print(f'{world} ranks ({backend}), {steps} DDP train steps: queues, pointer '
          f'({result["ptr"]}) and teacher {verdict} on every rank')


SECTIONS = [('training step', section_training_step), ('largest batch', section_largest_batch),
            ('loader', section_loader), ('AMP error', section_amp_error),
            ('ranks', section_ranks)]


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if not args.dry_run and not torch.cuda.is_available():
        sys.exit(NEEDS_CUDA.format(torch=torch.__version__, cuda=torch.version.cuda))
    init_default_scope('mmpretrain')
    check = Check(args)
    if check.device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # as the configs' env_cfg
    header(check)
    for title, section in SECTIONS:
        print(f'== {title}', flush=True)
        section(check)
        free_device_memory(check.device)


if __name__ == '__main__':
    main()
