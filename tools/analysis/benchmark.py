"""Training-step benchmark: CGH against mmpretrain's MoCo v2 in one run.

Both models get the same backbone, batch, resolution, device and queue length.
After warm-up steps, timed full training steps (forward, backward, optimizer
step, EMA update, enqueue) alternate between the two models in rounds, so that
drift of a shared machine hits both alike. Prints per model the median step
time, images/s and peak memory, a breakdown of CGH's step, the FLOPs of one
training step of each model, and last::

    CGH/MoCo step-time ratio: X.XX, peak-memory ratio: Y.YY

    python tools/analysis/benchmark.py --device cpu --arch resnet18 \\
        --resolution 112 --batch 32 --queue-len 32768 --threads 2

Settings compared:

* MoCo v2: ``type='MoCo'`` + ``MoCoV2Neck(in, 2048, 128)``, momentum 0.001,
  ``feat_dim=128``, queue of ``--queue-len`` (CGH's length, for a fair
  comparison; MoCo v2's own default is 65536).
* CGH: the ``configs/_base_/models/cgh_r50.py`` model on ``--arch``, ``alpha=1``
  (after the InfoNCE warm-up, i.e. 195 of 200 epochs). ``--necks paper`` (the
  default) keeps the paper's recipe on any backbone, as its reference code
  does: 512-d embeddings, hidden 4096, fusion conv as wide as the last stage
  (2048 on ResNet-50, 512 on ResNet-18). ``--necks scaled`` also scales the
  embedding and hidden sizes by the backbone's width ratio to ResNet-50
  (ResNet-18: 128-d, hidden 1024).

Inputs are already normalised tensors: the data preprocessor, identical for
both, is left out. Peak memory is measured in fresh child processes per model
(the median of ``--memory-repeats``): on CPU the growth of peak RSS (VmHWM)
over the RSS before the model was built (parameters, queues, gradients,
optimizer state and activations); on CUDA ``torch.cuda.max_memory_allocated``
over what was allocated before the model.
FLOPs are multiply-accumulates of convolutions and matmuls as counted by
``mmengine.analysis`` (fvcore convention): one step is student forward and
backward (3x forward), teacher forward, and the relation matmuls counted
analytically (the queue gets no gradient, so each student relation costs 2x
its forward). Elementwise ops (softmax, EMA, optimizer) are not counted.
"""
import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CGH_BASE_CONFIG = os.path.join(REPO_ROOT, 'configs', '_base_', 'models', 'cgh_r50.py')
ARCH_DEPTHS = dict(resnet18=18, resnet34=34, resnet50=50, resnet101=101)
# Channels of (layer3, layer4).
ARCH_STAGE_CHANNELS = dict(resnet18=(256, 512), resnet34=(256, 512),
                           resnet50=(1024, 2048), resnet101=(1024, 2048))
NECK_SIZES = ('paper', 'scaled')
SWEEP_QUEUE_LENS = (4096, 16384, 65536, 131072)
TIMED_STAGES = ('backbone', 'necks', 'EMA', 'teacher forward', 'relation logits', 'losses',
                'backward', 'optimizer', 'enqueue')


# --------------------------------------------------------------------- models
def cgh_config(arch: str, queue_len: int, necks: str = 'paper',
               queue_dtype: str = 'float32') -> dict:
    """CGH model config: the ResNet-50 base on ``arch``.

    ``necks='paper'``: 512-d embeddings, hidden 4096, fusion conv as wide as the
    last stage. ``necks='scaled'``: embedding and hidden sizes times the width
    ratio of ``arch`` to ResNet-50 too.
    """
    if necks not in NECK_SIZES:
        raise ValueError(f'necks must be one of {NECK_SIZES}, got {necks!r}')
    model = Config.fromfile(CGH_BASE_CONFIG).model.to_dict()
    layer3, layer4 = ARCH_STAGE_CHANNELS[arch]
    scale = 1.0 if necks == 'paper' else layer4 / 2048
    feat_dim = int(512 * scale)
    hid = int(4096 * scale)
    model['queue_len'] = queue_len
    model['queue_dtype'] = queue_dtype
    model['feat_dim'] = feat_dim
    model['backbone']['depth'] = ARCH_DEPTHS[arch]
    model['neck'].update(in_channels=layer4, hid_channels=hid, out_channels=feat_dim)
    model['hypercolumn_neck'].update(in_channels=(layer3, layer4),
                                     conv_channels=layer4,
                                     hid_channels=hid, out_channels=feat_dim)
    return model


def moco_v2_config(arch: str, queue_len: int) -> dict:
    """mmpretrain's MoCo v2 (``mocov2_resnet50_8xb32-coslr-200e_in1k``) on ``arch``."""
    return dict(
        type='MoCo',
        queue_len=queue_len,
        feat_dim=128,
        momentum=0.001,
        backbone=dict(type='ResNet', depth=ARCH_DEPTHS[arch], in_channels=3,
                      out_indices=(3, ), norm_cfg=dict(type='BN')),
        neck=dict(type='MoCoV2Neck', in_channels=ARCH_STAGE_CHANNELS[arch][1],
                  hid_channels=2048, out_channels=128, with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.2))


def build_model(name: str, args: argparse.Namespace) -> nn.Module:
    if name == 'CGH':
        cfg = cgh_config(args.arch, args.queue_len, args.necks, args.queue_dtype)
    else:
        cfg = moco_v2_config(args.arch, args.queue_len)
    model = MODELS.build(cfg).to(args.device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model.train()


def build_optim_wrapper(model: nn.Module, args: argparse.Namespace):
    from mmengine.optim import build_optim_wrapper as build
    cfg = dict(type='AmpOptimWrapper' if args.amp else 'OptimWrapper',
               optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4),
               paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
    if args.amp:
        cfg['dtype'] = 'float16'
    return build(model, cfg)


def make_inputs(args: argparse.Namespace, batch: int) -> Tuple[List[torch.Tensor],
                                                               List[DataSample]]:
    """Two normalised views ``(N, 3, R, R)`` and ``N`` empty data samples."""
    generator = torch.Generator().manual_seed(0)
    views = []
    for _ in range(2):
        view = torch.randn(batch, 3, args.resolution, args.resolution, generator=generator)
        view = view.to(args.device)
        if args.channels_last:
            view = view.contiguous(memory_format=torch.channels_last)
        views.append(view)
    return views, [DataSample() for _ in range(batch)]


def make_step(model: nn.Module, optim_wrapper, inputs: List[torch.Tensor],
              data_samples: List[DataSample]) -> Callable[[], None]:
    """One full training step as ``BaseModel.train_step`` runs it, minus preprocessing."""

    def step() -> None:
        with optim_wrapper.optim_context(model):
            losses = model.loss(inputs, data_samples)
        loss, _ = model.parse_losses(losses)
        optim_wrapper.update_params(loss)

    return step


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def timed(fn: Callable[[], object], device: str) -> Tuple[object, float]:
    synchronize(device)
    start = time.perf_counter()
    out = fn()
    synchronize(device)
    return out, time.perf_counter() - start


# ---------------------------------------------------------------- measurement
def alternate_rounds(steps: Dict[str, Callable[[], None]], rounds: int, steps_per_round: int,
                     warmup: int, device: str, progress: bool = True) -> Dict[str, List[float]]:
    """Seconds of every timed step of each model, the models taking turns."""
    from tqdm import tqdm
    names = list(steps)
    for name in names:
        for _ in range(warmup):
            timed(steps[name], device)
    times: Dict[str, List[float]] = {name: [] for name in names}
    for r in tqdm(range(rounds), desc='rounds', disable=not progress, file=sys.stderr):
        # Reverse the order every other round: neither model always goes first.
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            for _ in range(steps_per_round):
                times[name].append(timed(steps[name], device)[1])
    return times


def cgh_step_breakdown(model: nn.Module, optim_wrapper, inputs: List[torch.Tensor],
                       steps: int, device: str) -> Dict[str, float]:
    """Median seconds of each stage of CGH's step, the stages run one by one.

    Mirrors ``CGH.loss`` with ``alpha=1`` (no InfoNCE), one process, no local
    crops, and times each stage between device synchronisations. Also times
    mmengine's per-tensor EMA on the same encoder, for comparison with ``EMA``.
    """
    import copy
    from contextlib import contextmanager

    import torch.nn.functional as F
    from mmengine.model import ExponentialMovingAverage

    from cgh_mm.models.losses import cross_context_loss, paired_relation_logits
    head = model.head
    samples: Dict[str, List[float]] = {name: [] for name in TIMED_STAGES}
    samples['EMA, mmengine per-tensor'] = []
    reference_ema = ExponentialMovingAverage(copy.deepcopy(model._student_encoder()),
                                             momentum=model.teacher.momentum)

    @contextmanager
    def stage(name: str):
        synchronize(device)
        start = time.perf_counter()
        yield
        synchronize(device)
        samples[name].append(time.perf_counter() - start)

    for _ in range(steps):
        with optim_wrapper.optim_context(model):
            model.flush_pending_keys()
            with stage('backbone'):
                feats = model.backbone(inputs[1])
            with stage('necks'):
                student_global = F.normalize(model.neck((feats[-1], ))[0], dim=1)
                student_hyper = F.normalize(model.hypercolumn_neck(feats)[0], dim=1)
            with torch.no_grad():
                with stage('EMA'):
                    model.teacher.update_parameters(model._student_encoder())
                with stage('EMA, mmengine per-tensor'):
                    reference_ema.update_parameters(model._student_encoder())
                with stage('teacher forward'):
                    teacher_global, teacher_hyper = model.teacher(inputs[0])
            with stage('relation logits'):
                s_g, t_g = paired_relation_logits(student_global, teacher_global,
                                                  model.global_queue)
                s_h, t_h = paired_relation_logits(student_hyper, teacher_hyper,
                                                  model.hypercolumn_queue)
            with stage('losses'):
                loss = (head.hypercolumn_weight * cross_context_loss(
                    s_h, t_g, head.student_hypercolumn_temp, head.teacher_global_temp) +
                        head.global_weight * cross_context_loss(
                            s_g, t_h, head.student_global_temp,
                            head.teacher_hypercolumn_temp))
        with stage('backward'):
            optim_wrapper.backward(loss)
        with stage('optimizer'):
            optim_wrapper.step()
            optim_wrapper.zero_grad()
        with stage('enqueue'):
            model._stash_keys(teacher_global, teacher_hyper)
            model.flush_pending_keys()
    return {name: statistics.median(v) for name, v in samples.items()}


def encoder_flops(name: str, model: nn.Module, args: argparse.Namespace) -> int:
    """Forward MACs of one image through the trained encoder (backbone + neck(s))."""
    from mmengine.analysis import FlopAnalyzer

    class Encoder(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats = self.model.backbone(x)
            out = [self.model.neck((feats[-1], ))[0]]
            if name == 'CGH':
                out.append(self.model.hypercolumn_neck(feats)[0])
            return torch.cat(out, dim=1)

    image = torch.randn(1, 3, args.resolution, args.resolution, device=args.device)
    was_training = model.training
    model.eval()  # BN in eval: same MACs, no running-stat update from the probe.
    analyzer = FlopAnalyzer(Encoder(), (image, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    total = analyzer.total()
    model.train(was_training)
    return int(total)


def step_flops(name: str, model: nn.Module, args: argparse.Namespace, batch: int,
               queue_len: int) -> int:
    """MACs of one training step: student fwd+bwd (3x), teacher fwd, relation matmuls."""
    per_image = encoder_flops(name, model, args)
    feat_dim = model.feat_dim if name == 'CGH' else model.queue.shape[0]
    relation = batch * feat_dim * queue_len
    # CGH: 2 student relations (fwd + grad of the embeddings), 2 teacher relations.
    # MoCo: 1 student relation (fwd + grad).
    relations = 6 * relation if name == 'CGH' else 2 * relation
    return 4 * per_image * batch + relations


def peak_memory_child(name: str, args: argparse.Namespace, batch: int, queue_len: int) -> int:
    """Peak memory (bytes) of a few training steps of one model, in a fresh process."""
    cmd = [sys.executable, os.path.abspath(__file__), '--memory-child', name,
           '--device', args.device, '--arch', args.arch, '--resolution',
           str(args.resolution), '--batch', str(batch), '--queue-len', str(queue_len),
           '--threads', str(args.threads)]
    cmd += ['--amp'] * args.amp + ['--channels-last'] * args.channels_last
    cmd += ['--necks', args.necks, '--queue-dtype', args.queue_dtype]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith('{')]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f'memory measurement of {name} failed:\n{result.stderr[-3000:]}')
    return int(json.loads(lines[-1])['peak_bytes'])


def _proc_status_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'/proc/self/status has no {field}: CPU peak memory needs Linux.')


def memory_child_main(name: str, args: argparse.Namespace) -> None:
    inputs, samples = make_inputs(args, args.batch)
    if args.device == 'cuda':
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        before = _proc_status_kib('VmRSS') * 1024
        # Reset the high-water mark so that it starts at the current RSS.
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    model = build_model(name, args)
    step = make_step(model, build_optim_wrapper(model, args), inputs, samples)
    for _ in range(3):
        step()
    if args.device == 'cuda':
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = _proc_status_kib('VmHWM') * 1024 - before
    print(json.dumps(dict(model=name, peak_bytes=peak)))


# -------------------------------------------------------------------- report
def measure(args: argparse.Namespace, batch: int, queue_len: int,
            progress: bool = True) -> Dict[str, dict]:
    """Times, FLOPs and (optionally) peak memory of both models at one setting."""
    run_args = argparse.Namespace(**{**vars(args), 'batch': batch, 'queue_len': queue_len})
    inputs, samples = make_inputs(run_args, batch)
    models, steps, wrappers = {}, {}, {}
    for name in ('CGH', 'MoCo'):
        models[name] = build_model(name, run_args)
        wrappers[name] = build_optim_wrapper(models[name], run_args)
        steps[name] = make_step(models[name], wrappers[name], inputs, samples)
    times = alternate_rounds(steps, args.rounds, args.steps_per_round, args.warmup,
                             args.device, progress)
    results = {}
    for name in ('CGH', 'MoCo'):
        median = statistics.median(times[name])
        results[name] = dict(step_s=median, images_s=batch / median,
                             fastest_s=min(times[name]),
                             flops=step_flops(name, models[name], run_args, batch, queue_len),
                             model=models[name], wrapper=wrappers[name], inputs=inputs)
    return results


def fmt_bytes(n: float) -> str:
    return f'{n / 2**20:.1f} MiB'


def check_args(args: argparse.Namespace) -> None:
    if args.device == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('--device cuda: no CUDA device is visible. Use --device cpu.')
    if args.amp and args.device != 'cuda':
        raise SystemExit('--amp: mmengine\'s AmpOptimWrapper runs on GPUs only. Use '
                         '--device cuda, or drop --amp on CPU.')
    if args.queue_len % args.batch != 0:
        raise SystemExit(f'--queue-len {args.queue_len} must be a multiple of --batch '
                         f'{args.batch} (CGH and MoCo both require it).')
    if min(args.rounds, args.steps_per_round, args.batch, args.resolution,
           args.memory_repeats) <= 0:
        raise SystemExit('--rounds, --steps-per-round, --batch, --resolution and '
                         '--memory-repeats must be > 0.')
    if args.resolution < 32:
        raise SystemExit(f'--resolution {args.resolution}: ResNets need at least 32 px.')


def sweep(args: argparse.Namespace) -> None:
    """Step time against FLOPs over queue lengths and batch sizes; writes a PNG."""
    settings = [(args.batch, k) for k in SWEEP_QUEUE_LENS]
    settings += [(b, args.queue_len) for b in (args.batch // 2, args.batch * 2)
                 if b > 0 and args.queue_len % b == 0]
    points: Dict[str, List[Tuple[float, float, int, int]]] = {'CGH': [], 'MoCo': []}
    print(f'{"batch":>6} {"queue":>7} {"model":>5} {"step ms":>9} {"GMACs":>8}')
    for batch, queue_len in settings:
        res = measure(args, batch, queue_len, progress=False)
        for name in ('CGH', 'MoCo'):
            r = res[name]
            points[name].append((r['flops'] / 1e9, r['step_s'] * 1e3, batch, queue_len))
            print(f'{batch:>6} {queue_len:>7} {name:>5} {r["step_s"] * 1e3:9.1f} '
                  f'{r["flops"] / 1e9:8.2f}')
        ratio = res['CGH']['step_s'] / res['MoCo']['step_s']
        flops_ratio = res['CGH']['flops'] / res['MoCo']['flops']
        print(f'{"":>6} {"":>7} ratio {ratio:9.2f} {flops_ratio:8.2f}  '
              f'efficiency {ratio / flops_ratio:.2f}')
        del res
    title = (f'{args.arch}, {args.resolution} px, {args.device}'
             f'{", AMP" if args.amp else ""}{", channels_last" if args.channels_last else ""}'
             f', CGH necks {args.necks}, queues {args.queue_dtype}')
    plot_sweep(points, title, args.sweep_png)
    print(f'sweep plot written to {args.sweep_png}')


def plot_sweep(points: Dict[str, List[Tuple[float, float, int, int]]], title: str,
               path: str) -> None:
    """Left: step time against work per model. Right: CGH/MoCo time and FLOPs ratios.

    ``points[name]`` holds ``(GMACs, step ms, batch, queue length)`` per setting,
    in the same setting order for both models.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    def label(batch: int, queue_len: int) -> str:
        return f'b{batch} K{queue_len // 1024}k' if queue_len >= 1024 else f'b{batch} K{queue_len}'

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for name, marker, offset in (('CGH', 'o', (4, 4)), ('MoCo', 's', (4, -10))):
        pts = points[name]
        left.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=name)
        for x, y, batch, queue_len in pts:
            left.annotate(label(batch, queue_len), (x, y), xytext=offset,
                          textcoords='offset points', fontsize=7)
    left.set_xlabel('work per step (GMACs)')
    left.set_ylabel('median step time (ms)')
    left.set_title('step time against work')
    left.legend()

    names = [label(p[2], p[3]) for p in points['CGH']]
    time_ratio = [c[1] / m[1] for c, m in zip(points['CGH'], points['MoCo'])]
    flops_ratio = [c[0] / m[0] for c, m in zip(points['CGH'], points['MoCo'])]
    xs = range(len(names))
    width = 0.4
    right.bar([x - width / 2 for x in xs], time_ratio, width, label='step-time ratio')
    right.bar([x + width / 2 for x in xs], flops_ratio, width, label='FLOPs ratio')
    for x, t, f in zip(xs, time_ratio, flops_ratio):
        right.annotate(f'{t / f:.2f}', (x, max(t, f)), xytext=(0, 3),
                       textcoords='offset points', ha='center', fontsize=7)
    right.axhline(1.0, color='grey', linewidth=0.8)
    right.set_xticks(list(xs))
    right.set_xticklabels(names, rotation=30, fontsize=8)
    right.set_ylim(0.8, max(time_ratio + flops_ratio) * 1.1)
    right.set_ylabel('CGH / MoCo')
    right.set_title('ratios (numbers: efficiency = time ratio / FLOPs ratio)')
    right.legend(loc='upper left')
    fig.suptitle(title)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--amp', action='store_true',
                        help='AmpOptimWrapper, float16 (CUDA only)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--necks', choices=NECK_SIZES, default='paper',
                        help="CGH neck sizes: the paper's (512-d, hidden 4096, fusion conv "
                        "as wide as the last stage) or scaled to the backbone's width")
    parser.add_argument('--queue-dtype', choices=('float32', 'float16', 'bfloat16'),
                        default='float32', help="CGH's `queue_dtype` (MoCo keeps float32)")
    parser.add_argument('--arch', choices=sorted(ARCH_DEPTHS), default='resnet18')
    parser.add_argument('--resolution', type=int, default=112)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--queue-len', type=int, default=32768)
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per model')
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--steps-per-round', type=int, default=3)
    parser.add_argument('--memory-repeats', type=int, default=3,
                        help='child processes per model for peak memory (median taken)')
    parser.add_argument('--no-breakdown', action='store_true')
    parser.add_argument('--sweep', action='store_true',
                        help=f'queue lengths {SWEEP_QUEUE_LENS} and batch /2, x2: step '
                        'time against work, written as a PNG')
    parser.add_argument('--sweep-png', default='work_dirs/benchmark/sweep.png')
    parser.add_argument('--memory-child', choices=('CGH', 'MoCo'), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    check_args(args)
    torch.set_num_threads(args.threads)
    init_default_scope('mmpretrain')
    # The optimizer constructor logs one line per parameter: keep the report readable.
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    import cgh_mm  # noqa: F401  (registers CGH)
    torch.manual_seed(0)
    if args.memory_child:
        memory_child_main(args.memory_child, args)
        return
    if args.sweep:
        sweep(args)

    print(f'device {args.device}'
          f'{" (" + torch.cuda.get_device_name() + ")" if args.device == "cuda" else ""}, '
          f'torch {torch.__version__}, threads {torch.get_num_threads()}, '
          f'arch {args.arch}, {args.resolution} px, batch {args.batch}, '
          f'queue {args.queue_len}, amp {args.amp}, channels_last {args.channels_last}, '
          f'CGH necks {args.necks}, CGH queues {args.queue_dtype}')
    print(f'{args.rounds} rounds x {args.steps_per_round} steps per model, '
          f'{args.warmup} warm-up steps, models alternating')
    res = measure(args, args.batch, args.queue_len)
    for name in ('CGH', 'MoCo'):
        # Peak RSS moves by tens of MiB between identical runs (allocator state):
        # the median of a few fresh processes is the steadier figure.
        res[name]['peak'] = int(statistics.median(
            peak_memory_child(name, args, args.batch, args.queue_len)
            for _ in range(args.memory_repeats)))
    # The fastest step is the one least disturbed by other work on the machine.
    print(f'{"model":<6}{"median step":>13}{"fastest":>12}{"images/s":>10}{"peak memory":>14}'
          f'{"GMACs/step":>12}')
    for name in ('CGH', 'MoCo'):
        r = res[name]
        print(f'{name:<6}{r["step_s"] * 1e3:>10.1f} ms{r["fastest_s"] * 1e3:>9.1f} ms'
              f'{r["images_s"]:>10.1f}{fmt_bytes(r["peak"]):>14}{r["flops"] / 1e9:>12.2f}')
    print(f'fastest-step ratio CGH/MoCo: {res["CGH"]["fastest_s"] / res["MoCo"]["fastest_s"]:.3f}')
    if not args.no_breakdown:
        cgh = res['CGH']
        stages = cgh_step_breakdown(cgh['model'], cgh['wrapper'], cgh['inputs'],
                                    max(3, args.steps_per_round), args.device)
        reference_ema = stages.pop('EMA, mmengine per-tensor')
        total = sum(stages.values())
        print(f'CGH step breakdown (stages timed one by one, sum {total * 1e3:.1f} ms):')
        for name, seconds in stages.items():
            print(f'  {name:<16}{seconds * 1e3:8.2f} ms {100 * seconds / total:5.1f} %')
        print(f'  (EMA with mmengine\'s per-tensor ExponentialMovingAverage: '
              f'{reference_ema * 1e3:.2f} ms)')
    time_ratio = res['CGH']['step_s'] / res['MoCo']['step_s']
    flops_ratio = res['CGH']['flops'] / res['MoCo']['flops']
    memory_ratio = res['CGH']['peak'] / res['MoCo']['peak']
    print(f'CGH/MoCo FLOPs ratio: {flops_ratio:.3f}')
    print(f'efficiency (step-time ratio / FLOPs ratio): {time_ratio / flops_ratio:.3f}')
    print(f'CGH/MoCo step-time ratio: {time_ratio:.2f}, peak-memory ratio: {memory_ratio:.2f}')


if __name__ == '__main__':
    main()
