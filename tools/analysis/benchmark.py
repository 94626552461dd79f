"""Training-step benchmark: CGH against mmpretrain's MoCo v2, measured in one run.

    python tools/analysis/benchmark.py --device cpu --arch resnet18 --resolution 112 \
        --batch 32 --queue-len 32768 --threads 2

Both models come from their configs with the same queue length and run the same
``model.train_step`` on the same batch, taking turns in rounds. Prints per model the
step time, images/s, peak memory (fresh child processes), multiply-accumulates per
step and the costliest operators, then the ratios, last::

    CGH/MoCo step-time ratio: X.XX, peak-memory ratio: Y.YY
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


def model_configs(args: argparse.Namespace) -> Dict[str, dict]:
    """The two model configs, with ``--queue-len`` (and CGH's ``--queue-dtype``)."""
    from mmengine.config import Config

    default = CONFIGS[(args.arch, args.necks)]
    paths = [args.cgh_config or os.path.join(MODELS_DIR, default[0]),
             args.moco_config or (default[1] if '::' in default[1] else
                                  os.path.join(MODELS_DIR, default[1]))]
    cgh, moco = (Config.fromfile(p).model.to_dict() for p in paths)
    cgh.update(queue_len=args.queue_len, queue_dtype=args.queue_dtype)
    # the same preprocessing for both
    moco.update(queue_len=args.queue_len, data_preprocessor=cgh['data_preprocessor'])
    return dict(CGH=cgh, MoCo=moco)


def build(name: str, args: argparse.Namespace):
    """``(model, optim_wrapper, step)``: one ``train_step`` on a fixed batch per call."""
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    from mmpretrain.structures import DataSample

    model = MODELS.build(model_configs(args)[name]).to(args.device).train()
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    optim_wrapper = build_optim_wrapper(model, dict(
        type='AmpOptimWrapper' if args.amp else 'OptimWrapper',
        optimizer=dict(type='SGD', lr=0.03, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0)))
    generator = torch.Generator().manual_seed(0)
    views = [(torch.rand(args.batch, 3, args.resolution, args.resolution, generator=generator)
              * 255).to(args.device, memory_format=memory_format) for _ in range(2)]
    data = dict(inputs=views, data_samples=[DataSample() for _ in range(args.batch)])
    return model, optim_wrapper, lambda: model.train_step(data, optim_wrapper)


def synchronize(device: str) -> None:
    if device == 'cuda':
        torch.cuda.synchronize()


def alternate_rounds(steps: Dict[str, Callable], args: argparse.Namespace,
                     progress: bool = True) -> Dict[str, List[float]]:
    """Seconds of every timed step of each model, the models taking turns."""
    from tqdm import tqdm

    def timed(step: Callable) -> float:
        synchronize(args.device)
        start = time.perf_counter()
        step()
        synchronize(args.device)
        return time.perf_counter() - start

    for step in steps.values():
        for _ in range(args.warmup):
            timed(step)
    times: Dict[str, List[float]] = {name: [] for name in steps}
    for r in tqdm(range(args.rounds), desc='rounds', disable=not progress, file=sys.stderr):
        for name in (NAMES if r % 2 == 0 else NAMES[::-1]):  # neither always goes first
            times[name] += [timed(steps[name]) for _ in range(args.steps_per_round)]
    return times


def step_macs(name: str, model: nn.Module, args: argparse.Namespace) -> int:
    """Multiply-accumulates of one step: the trained encoder's forward x3 (forward and
    backward), the teacher's forward, and the relation products (the queue gets no
    gradient: a student relation costs 2x its forward, a teacher relation 1x)."""
    from mmengine.analysis import FlopAnalyzer

    class Encoder(nn.Module):

        def __init__(self) -> None:
            super().__init__()
            self.model = model  # registered: traced as parameters, not constants

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            feats = self.model.backbone(images)
            out = [self.model.neck((feats[-1], ))[0]]
            if name == 'CGH':
                out.append(self.model.hypercolumn_neck(feats)[0])
            return torch.cat(out, dim=1)

    model.eval()  # the same MACs, no running-statistics update from the probe
    image = torch.randn(1, 3, args.resolution, args.resolution, device=args.device)
    analyzer = FlopAnalyzer(Encoder(), (image, ))
    analyzer.unsupported_ops_warnings(False)
    analyzer.uncalled_modules_warnings(False)
    per_image = analyzer.total()
    model.train()
    feat_dim = model.feat_dim if name == 'CGH' else model.queue.shape[0]
    relations = (6 if name == 'CGH' else 2) * args.batch * feat_dim * args.queue_len
    return 4 * per_image * args.batch + relations


def top_operators(step: Callable, device: str, count: int = 8) -> List[Tuple[str, float]]:
    """``(operator, ms)`` of the operators that take the most time in one step."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == 'cuda':
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        step()
        synchronize(device)
    attr = 'self_device_time_total' if device == 'cuda' else 'self_cpu_time_total'
    ops = sorted(((e.key, getattr(e, attr) / 1e3) for e in prof.key_averages()),
                 key=lambda op: -op[1])
    return ops[:count]


def peak_memory(name: str, args: argparse.Namespace) -> int:
    """Peak memory (bytes) of a few steps of one model, in a fresh process."""
    cmd = [sys.executable, os.path.abspath(__file__), '--memory-child', name]
    for key, value in vars(args).items():
        if key in ('memory_child', 'sweep') or value in (None, False):
            continue
        flag = '--' + key.replace('_', '-')
        cmd += [flag] if value is True else [flag, str(value)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith('{')]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f'memory measurement of {name} failed:\n{result.stderr[-3000:]}')
    return int(json.loads(lines[-1])['peak_bytes'])


def _rss_kib(field: str) -> int:
    with open('/proc/self/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ':'))


def memory_child(name: str, args: argparse.Namespace) -> None:
    if args.device == 'cuda':
        before = torch.cuda.memory_allocated()
    else:
        before = _rss_kib('VmRSS') * 1024
        with open('/proc/self/clear_refs', 'w') as f:  # peak RSS starts at the current RSS
            f.write('5')
    _, _, step = build(name, args)
    for _ in range(3):
        step()
    synchronize(args.device)
    peak = (torch.cuda.max_memory_allocated() if args.device == 'cuda' else
            _rss_kib('VmHWM') * 1024)
    print(json.dumps(dict(model=name, peak_bytes=peak - before)))


def measure(args: argparse.Namespace, progress: bool = True) -> Dict[str, dict]:
    """Step times and MACs of both models at the settings of ``args``."""
    built = {name: build(name, args) for name in NAMES}
    times = alternate_rounds({name: b[2] for name, b in built.items()}, args, progress)
    return {name: dict(step_s=statistics.median(times[name]), fastest_s=min(times[name]),
                       macs=step_macs(name, built[name][0], args), step=built[name][2])
            for name in NAMES}


def sweep(args: argparse.Namespace) -> None:
    """Step time against work over queue lengths and batch sizes, plotted to a PNG."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    settings = [(args.batch, k) for k in SWEEP_QUEUE_LENS]
    settings += [(b, args.queue_len) for b in (args.batch // 2, args.batch * 2)
                 if b > 0 and args.queue_len % b == 0]
    rows = []
    print(f'{"batch":>6} {"queue":>7} {"CGH ms":>8} {"MoCo ms":>8} {"time ratio":>10} '
          f'{"MACs ratio":>10} {"efficiency":>10}')
    for batch, queue_len in settings:
        res = measure(argparse.Namespace(**{**vars(args), 'batch': batch,
                                            'queue_len': queue_len}), progress=False)
        time_ratio = res['CGH']['step_s'] / res['MoCo']['step_s']
        macs_ratio = res['CGH']['macs'] / res['MoCo']['macs']
        rows.append((f'b{batch} K{queue_len // 1024}k', res, time_ratio, macs_ratio))
        print(f'{batch:>6} {queue_len:>7} {res["CGH"]["step_s"] * 1e3:8.1f} '
              f'{res["MoCo"]["step_s"] * 1e3:8.1f} {time_ratio:10.2f} {macs_ratio:10.2f} '
              f'{time_ratio / macs_ratio:10.2f}')
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
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
    torch.set_num_threads(args.threads)
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import cgh_mm  # noqa: F401  (registers CGH)
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
    for name in NAMES:
        res[name]['peak'] = statistics.median(
            peak_memory(name, args) for _ in range(args.memory_repeats))
    print(f'{"model":<6}{"median step":>13}{"fastest":>12}{"images/s":>10}{"peak memory":>14}'
          f'{"GMACs/step":>12}')
    for name in NAMES:
        r = res[name]
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
