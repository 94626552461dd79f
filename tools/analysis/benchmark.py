"""Training-step benchmark: CGH against mmpretrain's MoCo v2, measured in one run.

Both models come from their configs with the same queue length and take turns running the
same ``model.train_step`` on the same batch. Prints per model the step time, images/s, peak
memory (fresh child processes), MACs per step and the costliest operators, then the ratios,
last ``CGH/MoCo step-time ratio: X.XX, peak-memory ratio: Y.YY``.
"""
import argparse
import logging
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from matplotlib.figure import Figure
from mmengine.analysis import FlopAnalyzer
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from tqdm import tqdm

import cgh_mm.models  # noqa: F401  (registers CGH)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_DIR = os.path.join(ROOT, 'configs', '_base_', 'models')
# (--arch, --necks) -> (CGH config, MoCo v2 config)
CONFIGS = {
    ('resnet18', 'paper'): ('cgh_r18_paper-necks.py', 'mocov2_r18.py'),
    ('resnet18', 'scaled'): ('cgh_r18.py', 'mocov2_r18.py'),
    ('resnet50', 'paper'): ('cgh_r50.py',
                            'mmpretrain::mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'),
}
NAMES = ('CGH', 'MoCo')
SWEEP_QUEUE_LENS = (4096, 16384, 65536, 131072)


def build(name: str, args: argparse.Namespace):
    """``(model, step)`` of the model ``name`` from its config, with ``--queue-len`` (CGH
    also ``--queue-dtype``): ``step()`` runs one ``train_step`` on a fixed batch."""
    paths = [given or (default if '::' in default else os.path.join(MODELS_DIR, default))
             for given, default in zip((args.cgh_config, args.moco_config),
                                       CONFIGS[(args.arch, args.necks)])]
    cgh, moco = (Config.fromfile(p).model.to_dict() for p in paths)
    cgh.update(queue_len=args.queue_len, queue_dtype=args.queue_dtype)
    # the same preprocessing for both
    moco.update(queue_len=args.queue_len, data_preprocessor=cgh['data_preprocessor'])
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = MODELS.build(dict(CGH=cgh, MoCo=moco)[name])
    model.to(args.device, memory_format=memory_format).train()
    optim_wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper' if args.amp else 'OptimWrapper',
        optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
    generator = torch.Generator().manual_seed(0)
    views = [(torch.rand(args.batch, 3, args.resolution, args.resolution, generator=generator)
              * 255).to(args.device, memory_format=memory_format) for _ in range(2)]
    data = dict(inputs=views, data_samples=[DataSample() for _ in range(args.batch)])
    return model, lambda: model.train_step(data, optim_wrapper)


def step_macs(name: str, model: nn.Module, args: argparse.Namespace) -> int:
    """Multiply-accumulates of one step: the trained encoder's forward x3 (forward and
    backward), the teacher's forward, and the relation products (the queue gets no
    gradient: a student relation costs 2x its forward, a teacher relation 1x)."""
    class Encoder(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.model = model  # registered: traced as parameters, not constants

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            feats = self.model.backbone(images)
            out = [self.model.neck((feats[-1], ))[0]]
            if getattr(self.model, 'hypercolumn_neck', None) is not None:  # not 'global'
                out.append(self.model.hypercolumn_neck(feats)[0])
            return torch.cat(out, dim=1)

    model.eval()  # the same MACs, no running-statistics update from the probe
    image = torch.randn(1, 3, args.resolution, args.resolution, device=args.device)
    per_image = (FlopAnalyzer(Encoder(), (image, )).unsupported_ops_warnings(False)
                 .uncalled_modules_warnings(False).total())
    model.train()
    feat_dim = model.feat_dim if name == 'CGH' else model.queue.shape[0]
    # per context: the student's relation (x2) and the teacher's; MoCo: its negatives (x2)
    contexts = 1 if name != 'CGH' or model.hypercolumn_neck is None else 2
    relations = (3 * contexts if name == 'CGH' else 2) * args.batch * feat_dim * args.queue_len
    return 4 * per_image * args.batch + relations


def top_operators(step: Callable, device: str, count: int = 8) -> List[Tuple[str, float]]:
    """``(operator, ms)`` of the operators that take the most time in one step."""
    activities = [torch.profiler.ProfilerActivity.CPU] + (
        [torch.profiler.ProfilerActivity.CUDA] if device == 'cuda' else [])
    with torch.profiler.profile(activities=activities) as prof:
        step()
        torch.get_device_module(device).synchronize()
    attr = 'self_device_time_total' if device == 'cuda' else 'self_cpu_time_total'
    return sorted(((e.key, getattr(e, attr) / 1e3) for e in prof.key_averages()),
                  key=lambda op: -op[1])[:count]


def peak_memory(name: str, args: argparse.Namespace) -> int:
    """Peak memory (bytes) of a few steps of one model, in a fresh process, same arguments."""
    result = subprocess.run([sys.executable, os.path.abspath(__file__), *args.argv,
                             '--memory-child', name], capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f'memory measurement of {name} failed:\n{result.stderr[-3000:]}')
    return int(result.stdout.split()[-1])


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def memory_child(name: str, args: argparse.Namespace) -> None:
    """Print the growth of peak memory (bytes) over three steps of one model."""
    if args.device == 'cuda':
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_kib('VmRSS') * 1024
        with open('/proc/self/clear_refs', 'w') as f:  # peak RSS starts at the current RSS
            f.write('5')
    step = build(name, args)[1]
    for _ in range(3):
        step()
    torch.get_device_module(args.device).synchronize()
    peak = (torch.cuda.max_memory_allocated() if args.device == 'cuda' else
            _rss_kib('VmHWM') * 1024)
    print(peak - before)


def measure(args: argparse.Namespace, progress: bool = True) -> Dict[str, dict]:
    """Median and fastest step time (s), MACs and ``step`` of both models at the settings
    of ``args``; after the warm-up steps the models take turns in rounds."""
    synchronize = torch.get_device_module(args.device).synchronize

    def timed(step: Callable) -> float:
        synchronize()
        start = time.perf_counter()
        step()
        synchronize()
        return time.perf_counter() - start

    built = {name: build(name, args) for name in NAMES}
    for _, step in built.values():
        for _ in range(args.warmup):
            timed(step)
    times: Dict[str, List[float]] = {name: [] for name in NAMES}
    for r in tqdm(range(args.rounds), desc='rounds', file=sys.stderr,
                  disable=None if progress else True):  # None: a bar only on a terminal
        for name in (NAMES if r % 2 == 0 else NAMES[::-1]):  # neither always goes first
            times[name] += [timed(built[name][1]) for _ in range(args.steps_per_round)]
    return {name: dict(step_s=statistics.median(times[name]), fastest_s=min(times[name]),
                       macs=step_macs(name, model, args), step=step)
            for name, (model, step) in built.items()}


def sweep(args: argparse.Namespace) -> None:
    """Step time against work over queue lengths and batch sizes, plotted to a PNG."""
    settings = [(args.batch, k) for k in SWEEP_QUEUE_LENS]
    settings += [(b, args.queue_len) for b in (args.batch // 2, args.batch * 2)
                 if b > 0 and args.queue_len % b == 0]
    rows = []
    print(' batch   queue   CGH ms  MoCo ms time ratio MACs ratio efficiency')
    for batch, queue_len in settings:
        res = measure(argparse.Namespace(**{**vars(args), 'batch': batch,
                                            'queue_len': queue_len}), progress=False)
        time_ratio = res['CGH']['step_s'] / res['MoCo']['step_s']
        macs_ratio = res['CGH']['macs'] / res['MoCo']['macs']
        rows.append((f'b{batch} K{queue_len // 1024}k', res, time_ratio, macs_ratio))
        print(f'{batch:>6} {queue_len:>7} {res["CGH"]["step_s"] * 1e3:8.1f} '
              f'{res["MoCo"]["step_s"] * 1e3:8.1f} {time_ratio:10.2f} {macs_ratio:10.2f} '
              f'{time_ratio / macs_ratio:10.2f}')
    fig = Figure(figsize=(12, 4.8))
    left, right = fig.subplots(1, 2)
    for name, marker in zip(NAMES, 'os'):
        xs = [r[1][name]['macs'] / 1e9 for r in rows]
        ys = [r[1][name]['step_s'] * 1e3 for r in rows]
        left.scatter(xs, ys, marker=marker, label=name)
        for x, y, row in zip(xs, ys, rows):
            left.annotate(row[0], (x, y), xytext=(4, 4), textcoords='offset points', fontsize=7)
    left.set(xlabel='work per step (GMACs)', ylabel='median step time (ms)',
             title='step time against work')
    left.legend()
    xs = range(len(rows))
    right.bar([x - 0.2 for x in xs], [r[2] for r in rows], 0.4, label='step-time ratio')
    right.bar([x + 0.2 for x in xs], [r[3] for r in rows], 0.4, label='MACs ratio')
    right.axhline(1.0, color='grey', linewidth=0.8)
    right.set_xticks(list(xs), [r[0] for r in rows], rotation=30, fontsize=8)
    right.set(ylim=(0.8, max(max(r[2], r[3]) for r in rows) * 1.1), ylabel='CGH / MoCo',
              title='CGH / MoCo ratios')
    right.legend(loc='upper left')
    fig.suptitle(f'{args.arch}, {args.resolution} px, {args.device}, CGH necks {args.necks}, '
                 f'queues {args.queue_dtype}')
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(args.sweep_png)), exist_ok=True)
    fig.savefig(args.sweep_png, dpi=120)
    print(f'sweep plot written to {args.sweep_png}')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--device', choices=('cpu', 'cuda'), default='cpu')
    parser.add_argument('--amp', action='store_true', help='AmpOptimWrapper (CUDA only)')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument('--arch', choices=sorted({a for a, _ in CONFIGS}), default='resnet18')
    parser.add_argument('--necks', choices=('paper', 'scaled'), default='paper',
                        help="CGH neck sizes: the paper's (512-d, hidden 4096, fusion conv as "
                        'wide as the last stage) or configs/_base_/models/cgh_r18.py')
    parser.add_argument('--cgh-config', help='CGH config (its `model` is used)')
    parser.add_argument('--moco-config', help='MoCo v2 config (its `model` is used)')
    parser.add_argument('--queue-dtype', choices=('float32', 'float16', 'bfloat16'),
                        default='float32', help="CGH's `queue_dtype` (MoCo keeps float32)")
    parser.add_argument('--resolution', type=int, default=112)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--queue-len', type=int, default=32768)
    parser.add_argument('--threads', type=int, default=2, help='torch CPU threads')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps per model')
    parser.add_argument('--rounds', type=int, default=10)
    parser.add_argument('--steps-per-round', type=int, default=3)
    parser.add_argument('--memory-repeats', type=int, default=3,
                        help='child processes per model for peak memory (median taken)')
    parser.add_argument('--sweep', action='store_true',
                        help=f'queue lengths {SWEEP_QUEUE_LENS} and batch /2, x2, as a PNG')
    parser.add_argument('--sweep-png', default='work_dirs/benchmark/sweep.png')
    parser.add_argument('--memory-child', choices=NAMES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible. Use --device cpu.')
    if args.amp and args.device != 'cuda':
        parser.error("--amp: mmengine's AmpOptimWrapper runs on GPUs only.")
    if (args.arch, args.necks) not in CONFIGS:
        parser.error(f'--necks {args.necks} has no default config for --arch {args.arch}; '
                     'give --cgh-config.')
    if args.queue_len % args.batch != 0:
        parser.error(f'--queue-len {args.queue_len} must be a multiple of --batch '
                     f'{args.batch} (CGH and MoCo both require it).')
    if min(args.rounds, args.steps_per_round, args.batch, args.memory_repeats) <= 0 \
            or args.resolution < 32:
        parser.error('--rounds, --steps-per-round, --batch and --memory-repeats must be > 0 '
                     'and --resolution >= 32.')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else list(argv)  # for the memory children
    torch.set_num_threads(args.threads)
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel(logging.ERROR)  # no per-parameter lines
    torch.manual_seed(0)
    if args.memory_child:
        return memory_child(args.memory_child, args)
    if args.sweep:
        return sweep(args)
    print(f'device {args.device}, torch {torch.__version__}, threads {torch.get_num_threads()}'
          f', arch {args.arch}, {args.resolution} px, batch {args.batch}, queue '
          f'{args.queue_len}, amp {args.amp}, channels_last {args.channels_last}, CGH necks '
          f'{args.necks}, CGH queues {args.queue_dtype}; {args.rounds} rounds x '
          f'{args.steps_per_round} steps per model after {args.warmup} warm-up steps')
    res = measure(args)
    print('model   median step     fastest  images/s   peak memory  GMACs/step')
    for name in NAMES:
        r = res[name]
        r['peak'] = statistics.median(peak_memory(name, args) for _ in range(args.memory_repeats))
        print(f'{name:<6}{r["step_s"] * 1e3:>10.1f} ms{r["fastest_s"] * 1e3:>9.1f} ms'
              f'{args.batch / r["step_s"]:>10.1f}{r["peak"] / 2**20:>10.1f} MiB'
              f'{r["macs"] / 1e9:>12.2f}')
    print('operators taking the most time in one step (ms):')
    for name in NAMES:
        ops = top_operators(res[name]['step'], args.device)
        print(f'  {name:<5}' + ', '.join(f'{op} {ms:.1f}' for op, ms in ops))
    time_ratio = res['CGH']['step_s'] / res['MoCo']['step_s']
    macs_ratio = res['CGH']['macs'] / res['MoCo']['macs']
    print(f'fastest-step ratio CGH/MoCo: {res["CGH"]["fastest_s"] / res["MoCo"]["fastest_s"]:.3f}')
    print(f'CGH/MoCo MACs ratio: {macs_ratio:.3f}; efficiency (step-time ratio / MACs ratio): '
          f'{time_ratio / macs_ratio:.3f}')
    print(f'CGH/MoCo step-time ratio: {time_ratio:.2f}, peak-memory ratio: '
          f'{res["CGH"]["peak"] / res["MoCo"]["peak"]:.2f}')


if __name__ == '__main__':
    main()
