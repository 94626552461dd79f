"""The study of docs/study.md: does cross-context learning help?

Runs a grid of methods x seeds x budgets, each run in its own process (``--jobs`` at
once), and appends one JSON line per finished run to the results file. A run of the
grid that is already recorded is skipped, so a stopped study resumes where it stopped
(unfinished runs start again from scratch). ``report`` draws the table and the kNN
curves from the results file only.

    python tools/analysis/study.py run [--budgets demo 3x] [--seeds 0 1 2] [--jobs 2]
    python tools/analysis/study.py report

Every run is evaluated by the demo's protocol: weighted kNN top-1 (k=20, T=0.07) of the
pooled last-stage backbone features, memory bank the first ``--memory-size`` train
images, queries every test image; and a linear probe (logistic regression on the
standardised memory features, accuracy on the queries). A run is recorded only when it
finished every iteration of exactly its config (the seed is the one setting the study
chooses) from a clean checkout: ``--smoke-iters`` runs are printed, never recorded.
"""
import argparse
import json
import math
import os
import os.path as osp
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, 'docs', 'study', 'results.jsonl')
DEMO = 'configs/cgh/cgh_resnet18_1xb64-fashion-mnist_demo.py'
# budget -> method -> config. 'random-init' evaluates the config's backbone as
# initialised (seeded), 'raw-pixels' the preprocessed pixels: neither trains.
GRID = {
    'demo': {
        'raw-pixels': DEMO,
        'random-init': DEMO,
        'mocov2': 'configs/mocov2/mocov2_resnet18-narrow_1xb64-6e_fashion-mnist.py',
        'infonce': 'configs/study/cgh-infonce_resnet18_1xb64-6e_fashion-mnist.py',
        'global': 'configs/study/cgh-global_resnet18_1xb64-6e_fashion-mnist.py',
        'same': 'configs/study/cgh-same_resnet18_1xb64-6e_fashion-mnist.py',
        'cross': DEMO,
        'cross-l234': 'configs/study/cgh-l234_resnet18_1xb64-6e_fashion-mnist.py',
    },
    '3x': {
        'cross': 'configs/study/cgh_resnet18_1xb64-18e_fashion-mnist.py',
        'global': 'configs/study/cgh-global_resnet18_1xb64-18e_fashion-mnist.py',
        'mocov2': 'configs/study/mocov2_resnet18-narrow_1xb64-18e_fashion-mnist.py',
    },
}
UNTRAINED = ('raw-pixels', 'random-init')
KNN = dict(k=20, temperature=0.07)


def git(*args: str) -> str:
    return subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def checkout_state() -> Dict[str, object]:
    """The commit, and whether code or configs differ from it (then nothing is recorded)."""
    return dict(commit=git('rev-parse', 'HEAD'),
                dirty=bool(git('status', '--porcelain', '--', 'cgh_mm', 'configs', 'tools')))


def refusal(result: Dict[str, object]) -> Optional[str]:
    """Why ``result`` must not enter the results file, or None."""
    if result.get('smoke'):
        return f"a smoke run (--smoke-iters {result['smoke']}), not the config as written"
    if not result.get('finished'):
        return (f"unfinished: {result.get('iters')} of {result.get('max_iters')} iterations "
                'of its config')
    if result.get('dirty'):
        return (f"run from a checkout whose cgh_mm/, configs/ or tools/ differ from commit "
                f"{result['commit']}: commit first")
    return None


def load_results(path: str) -> List[Dict[str, object]]:
    if not osp.isfile(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_key(result: Dict[str, object]) -> tuple:
    return result['budget'], result['method'], result['seed'], result['config']


def final_loaders(cfg, memory_size: int):
    """The final protocol's memory (the first ``memory_size`` images of the kNN monitor's
    memory set) and query (the whole val set) loaders of a config, as the demo builds them."""
    import copy

    from mmengine.runner import Runner
    memory_cfg = copy.deepcopy(cfg.val_cfg.memory_dataloader)
    memory_cfg.dataset.indices = memory_size
    query_cfg = copy.deepcopy(cfg.val_dataloader)
    query_cfg.dataset.pop('indices', None)
    return Runner.build_dataloader(memory_cfg), Runner.build_dataloader(query_cfg)


def evaluate(model, memory_loader, query_loader, num_classes: int) -> Dict[str, float]:
    """kNN and linear-probe top-1 (percent) of ``model.backbone`` (or of pixels)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cgh_mm.evaluation import extract_features, weighted_knn_accuracy
    memory, query = (extract_features(model, loader) for loader in (memory_loader, query_loader))
    knn = weighted_knn_accuracy(*memory, *query, num_classes=num_classes, ks=(KNN['k'], ),
                                temperature=KNN['temperature'])[KNN['k']]
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(memory[0].numpy(), memory[1].numpy())
    linear = 100.0 * probe.score(query[0].numpy(), query[1].numpy())
    return dict(knn_top1=knn, linear_top1=linear, memory_size=len(memory[1]),
                query_size=len(query[1]))


def run_one(args: argparse.Namespace) -> None:
    """One run in this process; its result as JSON in ``args.out``."""
    from types import SimpleNamespace

    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmpretrain.utils import load_json_log
    from training_curves import find_scalars_file, scalar_series  # tools/analysis/
    torch.set_num_threads(args.threads)
    state = checkout_state()
    cfg = Config.fromfile(osp.join(ROOT, args.config))
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    cfg.log_level = 'WARNING'
    if args.data_root:
        for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.val_cfg.memory_dataloader):
            loader.dataset.data_root = args.data_root
    if args.smoke_iters:
        cfg.train_cfg.max_epochs = 1
        cfg.train_dataloader.dataset.indices = args.smoke_iters * cfg.train_dataloader.batch_size
    runner = Runner.from_cfg(cfg)
    result = dict(method=args.method, budget=args.budget, seed=args.seed, config=args.config,
                  **state, smoke=args.smoke_iters or 0, threads=args.threads)
    tic = time.time()
    if args.method in UNTRAINED:
        runner.model.init_weights()
        result.update(finished=True, iters=0, max_iters=0)
    else:
        runner.train()
        result.update(finished=runner.iter == runner.max_iters, iters=runner.iter,
                      max_iters=runner.max_iters, epochs=runner.epoch)
    result['train_s'] = round(time.time() - tic, 1)
    model = runner.model
    if args.method == 'raw-pixels':
        model = SimpleNamespace(backbone=torch.nn.Flatten(),
                                data_preprocessor=runner.model.data_preprocessor)
    loaders = final_loaders(cfg, args.memory_size)
    num_classes = len(loaders[0].dataset.metainfo['classes'])
    result.update(evaluate(model, *loaders, num_classes), **{f'knn_{k}': v for k, v in
                                                             KNN.items()})
    if args.method not in UNTRAINED:
        records = load_json_log(find_scalars_file(cfg.work_dir))
        epochs, top1 = scalar_series(records['val'], 'knn/top1')
        result['knn_curve'] = [[e, v] for e, v in zip(epochs, top1)]
        last = {}
        for record in records['train']:
            last.update({k: v for k, v in record.items() if k.startswith('health/')})
        result['health'] = last
    result['wall_s'] = round(time.time() - tic, 1)
    with open(args.out + '.tmp', 'w') as f:
        json.dump(result, f)
    os.replace(args.out + '.tmp', args.out)


def record(result: Dict[str, object], path: str) -> bool:
    """Append ``result`` to the results file, unless :func:`refusal` says no."""
    reason = refusal(result)
    if reason:
        print(f"  not recorded: {reason}")
        return False
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'a') as f:
        f.write(json.dumps(result, sort_keys=True) + '\n')
        f.flush()
        os.fsync(f.fileno())
    return True


def run_grid(args: argparse.Namespace) -> None:
    grid = GRID if args.grid is None else json.load(open(args.grid))
    done = {run_key(r) for r in load_results(args.results)}
    # Budget by budget, seed by seed: a study stopped early still has every method of a
    # budget at the same number of seeds.
    todo = [(budget, method, seed, config)
            for budget in args.budgets for seed in args.seeds
            for method, config in grid[budget].items()
            if (not args.methods or method in args.methods)
            and (budget, method, seed, config) not in done]
    print(f'{len(todo)} runs to do, {len(done)} recorded in {args.results}')
    running: List[tuple] = []
    finished = 0
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=ROOT)
    while todo or running:
        while todo and len(running) < args.jobs:
            budget, method, seed, config = run = todo.pop(0)
            work_dir = osp.join(args.work_dir, budget, method, f'seed{seed}')
            os.makedirs(work_dir, exist_ok=True)
            out = osp.join(work_dir, 'result.json')
            if osp.exists(out):
                os.remove(out)
            cmd = [sys.executable, __file__, 'one', '--method', method, '--budget', budget,
                   '--seed', str(seed), '--config', config, '--work-dir', work_dir,
                   '--out', out, '--threads', str(args.threads),
                   '--memory-size', str(args.memory_size)]
            cmd += ['--data-root', args.data_root] if args.data_root else []
            cmd += ['--smoke-iters', str(args.smoke_iters)] if args.smoke_iters else []
            log = open(osp.join(work_dir, 'run.log'), 'w')
            running.append((run, out, subprocess.Popen(cmd, stdout=log, stderr=log, env=env),
                            log))
        time.sleep(0.5)
        for item in [r for r in running if r[2].poll() is not None]:
            running.remove(item)
            (budget, method, seed, _), out, proc, log = item
            log.close()
            finished += 1
            head = f'[{finished}] {budget} {method} seed {seed}:'
            if proc.returncode != 0 or not osp.exists(out):
                print(f'{head} failed (exit {proc.returncode}); see {log.name}')
                continue
            with open(out) as f:
                result = json.load(f)
            print(f"{head} kNN {result['knn_top1']:.2f} %, linear {result['linear_top1']:.2f} %"
                  f", {result['wall_s']:.0f} s", flush=True)
            record(result, args.results)


def mean_std(values: List[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f'{mean:.2f}'
    std = math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))
    return f'{mean:.2f} ± {std:.2f}'


def report(args: argparse.Namespace) -> None:
    """``results.md`` (mean ± sample std and every run) and ``knn_per_epoch.png``."""
    from matplotlib.figure import Figure
    results = [r for r in load_results(args.results) if refusal(r) is None]
    if not results:
        sys.exit(f'no recorded run in {args.results}: run `study.py run` first.')
    groups: Dict[tuple, List[dict]] = defaultdict(list)
    for r in results:
        groups[r['budget'], r['method']].append(r)
    order = {m: i for i, m in enumerate(
        ['raw-pixels', 'random-init', 'mocov2', 'infonce', 'global', 'same', 'cross',
         'cross-l234'])}
    keys = sorted(groups, key=lambda k: (k[0] != 'demo', k[0], order.get(k[1], 99), k[1]))
    first = results[0]
    lines = [
        '# Study results', '',
        f'Drawn by `python tools/analysis/study.py report` from `{osp.relpath(args.results, ROOT)}`'
        ' only. kNN: weighted, k={knn_k}, T={knn_temperature}; linear: logistic regression '
        'on the standardised memory features; memory {memory_size} train images, queries '
        '{query_size} test images. Mean ± sample standard deviation over seeds.'.format(**first),
        '',
        '| budget | method | runs | kNN top-1 (%) | linear top-1 (%) | kNN of each run (seed: %) '
        '| train time (s, mean) |',
        '| --- | --- | --- | --- | --- | --- | --- |',
    ]
    for key in keys:
        runs = sorted(groups[key], key=lambda r: r['seed'])
        each = ', '.join(f"{r['seed']}: {r['knn_top1']:.2f}" for r in runs)
        train = sum(r['train_s'] for r in runs) / len(runs)
        lines.append(f"| {key[0]} | {key[1]} | {len(runs)} | "
                     f"{mean_std([r['knn_top1'] for r in runs])} | "
                     f"{mean_std([r['linear_top1'] for r in runs])} | {each} | {train:.0f} |")
    commits = sorted({r['commit'][:10] for r in results})
    lines += ['', f"Commits of the recorded runs: {', '.join(commits)}.", '']
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.md'), 'w') as f:
        f.write('\n'.join(lines))
    print('\n'.join(lines))

    budgets = sorted({k[0] for k in keys}, key=lambda b: (b != 'demo', b))
    fig = Figure(figsize=(6.5 * len(budgets), 4.5))
    for ax, budget in zip(fig.subplots(1, len(budgets), squeeze=False)[0], budgets):
        for i, key in enumerate(k for k in keys if k[0] == budget):
            runs = groups[key]
            colour = f'C{order.get(key[1], i) % 10}'
            if key[1] in UNTRAINED:
                mean = sum(r['knn_top1'] for r in runs) / len(runs)
                ax.axhline(mean, color=colour, ls='--', lw=1,
                           label=f'{key[1]} (final protocol, mean)')
                continue
            curves = [dict(map(tuple, r['knn_curve'])) for r in runs if r.get('knn_curve')]
            epochs = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
            if not epochs:
                continue
            values = [[c[e] for c in curves] for e in epochs]
            means = [sum(v) / len(v) for v in values]
            ax.plot(epochs, means, color=colour, marker='o', ms=3,
                    label=f'{key[1]} (n={len(curves)})')
            ax.fill_between(epochs, [min(v) for v in values], [max(v) for v in values],
                            color=colour, alpha=0.2)
        ax.set_title(f'budget: {budget}')
        ax.set_xlabel('epoch')
        ax.set_ylabel('online kNN top-1 (%): mean, band = min..max over seeds')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(osp.join(args.out_dir, 'knn_per_epoch.png'), dpi=110)
    print(f"plot: {osp.join(args.out_dir, 'knn_per_epoch.png')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    run = sub.add_parser('run', help='run the grid (skips recorded runs)')
    run.add_argument('--budgets', nargs='+', default=['demo', '3x'])
    run.add_argument('--methods', nargs='+', help='default: every method of the grid')
    run.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    run.add_argument('--grid', help='JSON file {budget: {method: config}} instead of the '
                     "study's grid")
    run.add_argument('--jobs', type=int, default=2, help='runs at once')
    run.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'study'))
    one = sub.add_parser('one', help='one run in this process (what `run` starts)')
    for name in ('--method', '--budget', '--config', '--work-dir', '--out'):
        one.add_argument(name, required=True)
    one.add_argument('--seed', type=int, required=True)
    for p in (run, one):
        p.add_argument('--results', default=RESULTS)
        p.add_argument('--threads', type=int, default=1, help='torch threads per run')
        p.add_argument('--memory-size', type=int, default=10000,
                       help='train images in the kNN memory bank and the probe')
        p.add_argument('--data-root', help="the dataset's folder, if not the config's")
        p.add_argument('--smoke-iters', type=int, default=0,
                       help='train 1 epoch of this many iterations: printed, never recorded')
    rep = sub.add_parser('report', help='table and plot from the results file')
    rep.add_argument('--results', default=RESULTS)
    rep.add_argument('--out-dir', default=osp.join(ROOT, 'docs', 'study'))
    args = parser.parse_args()
    for name in ('results', 'work_dir', 'out_dir', 'grid', 'data_root'):
        if getattr(args, name, None):
            setattr(args, name, osp.abspath(getattr(args, name)))
    {'run': run_grid, 'one': run_one, 'report': report}[args.command](args)


if __name__ == '__main__':
    main()
