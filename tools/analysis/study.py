"""The study of docs/study.md: does cross-context learning help?

Runs a grid of methods x seeds x budgets, each run in its own process (``--jobs`` at
once), and appends one JSON line per finished run to the results file. A run of the
grid that is already recorded is skipped, so a stopped study resumes where it stopped
(unfinished runs start again from scratch; stopping ``run`` stops the runs it started).
A run's work dir is locked while it runs and the results file while a run is recorded,
so two ``run`` calls never share a work dir nor record one run twice. ``report`` draws
the table and the kNN curves from the results file only: a table per set of evaluation
settings (memory size, queries, k, temperature), each run counted once.

    python tools/analysis/study.py run [--budgets demo 3x] [--seeds 0 1 2] [--jobs 2]
    python tools/analysis/study.py report

Every run is evaluated by the demo's protocol: weighted kNN top-1 (k=20, T=0.07) of the
pooled last-stage backbone features, memory bank the first ``--memory-size`` train
images, queries every test image; and a linear probe (logistic regression on the
standardised memory features, accuracy on the queries). A run is recorded only when it
finished every iteration of exactly its config (the seed is the one setting the study
chooses) from a clean git checkout: ``--smoke-iters`` runs are printed, never recorded.
"""
import argparse
import fcntl
import json
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from collections import defaultdict
from typing import Dict, List, Tuple

from cgh_mm.evaluation import extract_features
from cgh_mm.evaluation.study import (
    GRID,
    KNN,
    KNN_SETTINGS,
    RESULTS_FILE,
    SETTINGS,
    ResultsFileError,
    final_loaders,
    knn_top1,
    load_results,
    mean_std,
    moved,
    recorded_runs,
    refusal,
    run_key,
)
from cgh_mm.runtime.work_dir_lock import lock_folder

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RESULTS = osp.join(ROOT, RESULTS_FILE)
UNTRAINED = ('raw-pixels', 'random-init')


class NoCheckoutError(RuntimeError):
    """The code is not a git checkout (or git is missing): no run can be traced to a commit."""


class WorkDirBusyError(RuntimeError):
    """Another study.py holds the run's work dir."""


def git(*args: str) -> str:
    return subprocess.run(['git', *args], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


def checkout_state() -> Dict[str, object]:
    """The commit, and whether code or configs differ from it (then nothing is recorded);
    :class:`NoCheckoutError` where the code is not a git checkout."""
    try:
        return dict(commit=git('rev-parse', 'HEAD'), dirty=bool(
            git('status', '--porcelain', '--', 'cgh_mm', 'configs', 'tools')))
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, 'stderr', None) or err
        raise NoCheckoutError(f'{ROOT} is not a git checkout, or git is not installed '
                              f'({str(detail).strip()})') from None


def evaluate(model, memory_loader, query_loader, num_classes: int) -> Dict[str, float]:
    """kNN and linear-probe top-1 (percent) of ``model.backbone`` (or of pixels)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    memory, query = (extract_features(model, loader) for loader in (memory_loader, query_loader))
    knn = knn_top1(memory, query, num_classes)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    probe.fit(memory[0].numpy(), memory[1].numpy())
    linear = 100.0 * probe.score(query[0].numpy(), query[1].numpy())
    return dict(knn_top1=knn, linear_top1=linear, memory_size=len(memory[1]),
                query_size=len(query[1]))


def lock_work_dir(work_dir: str) -> int:
    """A descriptor holding an exclusive lock of ``work_dir`` (``study.lock`` in it): the
    lock lasts while any process holds the descriptor, a child it was passed to included;
    :class:`WorkDirBusyError` if another process holds it."""
    return lock_folder(work_dir, 'study.lock', lambda holder: WorkDirBusyError(
        f'{work_dir} is in use by another study.py ({holder}); two runs never share a '
        'work dir'))


def die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (the ``run`` that started it) ends, even by
    SIGKILL (Linux: ``PR_SET_PDEATHSIG``); elsewhere the parent's signal handlers stop its
    children, and the work-dir lock, held by the child too, keeps a rerun out."""
    if sys.platform.startswith('linux'):
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent ended before the line above
        sys.exit(f'study.py run (pid {parent_pid}) that started this run has ended')


def run_one(args: argparse.Namespace) -> None:
    """One run in this process; its result as JSON in ``args.out``."""
    if args.parent_pid:  # first: the imports below take seconds more
        die_with_parent(args.parent_pid)
    if args.lock_fd is None:  # started by hand, not by `run` (which holds the lock)
        try:
            args.lock_fd = lock_work_dir(args.work_dir)
        except WorkDirBusyError as err:
            sys.exit(f'study.py one: {err}.')
    from types import SimpleNamespace

    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    from cgh_mm.runtime.scalar_logs import load_scalars, scalar_series
    torch.set_num_threads(args.threads)
    try:
        state = checkout_state()
    except NoCheckoutError as err:
        print(f'commit unknown, the result will not be recorded: {err}')
        state = dict(commit=None, dirty=None)
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
    # Before training: the memory bank must hold --memory-size images, else the record
    # would state another size than the run asked for. (The Runner seeds every generator
    # when it is built, after this.) The loaders evaluate the run once it is trained.
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    loaders = final_loaders(cfg, args.memory_size)
    available = len(loaders[0].dataset)
    if available < args.memory_size:
        sys.exit(f'--memory-size {args.memory_size}: the kNN memory set of {args.config} '
                 f'has {available} images; give --memory-size {available} or less.')
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
    num_classes = len(loaders[0].dataset.metainfo['classes'])
    result.update(evaluate(model, *loaders, num_classes), **KNN_SETTINGS)
    if args.method not in UNTRAINED:
        records = load_scalars(cfg.work_dir)
        epochs, top1 = scalar_series(records['val'], 'knn/top1')
        result['knn_curve'] = [[e, v] for e, v in zip(epochs, top1)]
        last = {}
        for record_ in records['train']:
            last.update({k: v for k, v in record_.items() if k.startswith('health/')})
        result['health'] = last
    result['wall_s'] = round(time.time() - tic, 1)
    with open(args.out + '.tmp', 'w') as f:
        json.dump(result, f)
    os.replace(args.out + '.tmp', args.out)


def record(result: Dict[str, object], path: str) -> bool:
    """Append ``result`` to the results file, unless :func:`refusal` says no or the run is
    recorded already. The file is locked from the check to the write, so two ``run``
    calls never both record one run; a cut-off last line is ended first, never joined."""
    reason = refusal(result)
    if reason:
        print(f"  not recorded: {reason}")
        return False
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'a+') as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # released when the file is closed
        f.seek(0)
        lines = f.read().split('\n')
        key = run_key(moved(result))
        for number, line in enumerate(lines, 1):
            try:
                same = run_key(moved(json.loads(line))) == key
            except (ValueError, TypeError, KeyError):  # not a record: the report names it
                continue
            if same:
                print(f'  not recorded: recorded already, line {number} of {path}')
                return False
        prefix = ''
        if lines[-1]:  # the file ends inside a line, e.g. a write cut off
            prefix = '\n'
            print(f'  line {len(lines)} of {path} is cut off (no line end): the record is '
                  'appended after it; repair or delete that line before the report')
        f.write(prefix + json.dumps(result, sort_keys=True) + '\n')
        f.flush()
        os.fsync(f.fileno())
    return True


class StoppedError(Exception):
    """A signal asked ``run`` to stop."""


def _stop(signum, frame) -> None:
    raise StoppedError(signal.Signals(signum).name)


def stop_children(running: List[tuple]) -> None:
    """SIGTERM, then SIGKILL after 20 s, to the process group of every running child."""
    for *_, proc, _ in running:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for _, _, lock, proc, log in running:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        os.close(lock)


def run_grid(args: argparse.Namespace) -> None:
    try:
        checkout_state()
    except NoCheckoutError as err:
        if not args.smoke_iters:
            sys.exit(f'study.py run: no run started: {err}. The study records only runs '
                     'traceable to a commit: run it from a git clone of the project (smoke '
                     'runs, --smoke-iters N, which are never recorded, also run without git).')
        print(f'{err}: smoke runs only, nothing is recorded')
    grid = GRID if args.grid is None else json.load(open(args.grid))
    # the settings `run` knows before a run, in run_key's order: all but the query size
    known = dict(memory_size=args.memory_size, **KNN_SETTINGS)
    settings = tuple(known[name] for name in SETTINGS[:-1])

    def recorded() -> set:  # what `run` knows before a run: all but the query size
        return {run_key(r)[:-1] for r in load_results(args.results)}

    done = recorded()
    # Budget by budget, seed by seed: a study stopped early still has every method of a
    # budget at the same number of seeds.
    todo = [(budget, method, seed, config)
            for budget in args.budgets for seed in args.seeds
            for method, config in grid[budget].items()
            if (not args.methods or method in args.methods)
            and (budget, method, seed, config, *settings) not in done]
    print(f'{len(todo)} runs to do, {len(done)} recorded in {args.results}')
    running: List[tuple] = []
    finished = 0
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), PYTHONPATH=ROOT)
    stop_signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    handlers = {signum: signal.signal(signum, _stop) for signum in stop_signals}
    try:
        while todo or running:
            while todo and len(running) < args.jobs:
                budget, method, seed, config = run = todo.pop(0)
                head = f'{budget} {method} seed {seed}:'
                if (*run, *settings) in recorded():
                    print(f'{head} skipped, recorded meanwhile (by another study.py run)')
                    continue
                work_dir = osp.join(args.work_dir, budget, method, f'seed{seed}')
                try:
                    lock = lock_work_dir(work_dir)
                except WorkDirBusyError as err:
                    print(f'{head} skipped: {err}')
                    continue
                out = osp.join(work_dir, 'result.json')
                if osp.exists(out):
                    os.remove(out)
                cmd = [sys.executable, __file__, 'one', '--method', method, '--budget', budget,
                       '--seed', str(seed), '--config', config, '--work-dir', work_dir,
                       '--out', out, '--threads', str(args.threads),
                       '--memory-size', str(args.memory_size), '--lock-fd', str(lock),
                       '--parent-pid', str(os.getpid())]
                cmd += ['--data-root', args.data_root] if args.data_root else []
                cmd += ['--smoke-iters', str(args.smoke_iters)] if args.smoke_iters else []
                log = open(osp.join(work_dir, 'run.log'), 'w')
                # its own process group: stopped with its workers by stop_children
                proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, pass_fds=(lock, ),
                                        start_new_session=True)
                running.append((run, out, lock, proc, log))
            time.sleep(0.5)
            for item in [r for r in running if r[3].poll() is not None]:
                running.remove(item)
                (budget, method, seed, _), out, lock, proc, log = item
                log.close()
                finished += 1
                head = f'[{finished}] {budget} {method} seed {seed}:'
                if proc.returncode != 0 or not osp.exists(out):
                    print(f'{head} failed (exit {proc.returncode}); see {log.name}')
                else:
                    with open(out) as f:
                        result = json.load(f)
                    print(f"{head} kNN {result['knn_top1']:.2f} %, linear "
                          f"{result['linear_top1']:.2f} %, {result['wall_s']:.0f} s", flush=True)
                    record(result, args.results)
                os.close(lock)  # after recording: no other run can start in between
    except StoppedError as err:
        sys.exit(f'study.py run stopped ({err}): {len(running)} unfinished runs ended with '
                 'it; they start again from scratch next time.')
    finally:  # on any way out, no child outlives this process
        for signum in stop_signals:  # a second Ctrl-C does not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        stop_children(running)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


ORDER = {m: i for i, m in enumerate(
    ['raw-pixels', 'random-init', 'mocov2', 'infonce', 'global', 'same', 'cross',
     'infonce-l234', 'same-l234', 'cross-l234'])}


def group_runs(results: List[Dict[str, object]]) -> Dict[tuple, List[dict]]:
    """Runs by ``(settings, budget, method, config)``, in table order: settings as they
    first appear in the file, then demo budget first, methods in :data:`ORDER`."""
    groups: Dict[tuple, List[dict]] = defaultdict(list)
    for r in results:
        groups[tuple(r[k] for k in SETTINGS), r['budget'], r['method'], r['config']].append(r)
    first = {}
    for key in groups:
        first.setdefault(key[0], len(first))
    return {key: groups[key] for key in sorted(groups, key=lambda k: (
        first[k[0]], k[1] != 'demo', k[1], ORDER.get(k[2], 99), k[2], k[3]))}


def results_markdown(path: str) -> Tuple[str, Dict[tuple, List[dict]]]:
    """The report's table of the results file ``path``, and its groups of runs: one table
    per set of evaluation :data:`SETTINGS`, one row per budget, method and config."""
    results, notes = recorded_runs(path)
    if not results:
        raise ResultsFileError(f'no recorded run in {path}: run `study.py run` first.')
    groups = group_runs(results)
    settings = list(dict.fromkeys(key[0] for key in groups))
    protocol = ('kNN: weighted, k={knn_k}, T={knn_temperature}; linear: logistic regression '
                'on the standardised memory features; memory {memory_size} train images, '
                'queries {query_size} test images.')
    drawn = (f'Drawn by `python tools/analysis/study.py report` from `{osp.relpath(path, ROOT)}`'
             ' only.')
    if len(settings) == 1:
        lines = ['# Study results', '', f'{drawn} {protocol} Mean ± sample standard deviation '
                 'over seeds.'.format(**dict(zip(SETTINGS, settings[0]))), '']
    else:
        lines = ['# Study results', '', f'{drawn} Mean ± sample standard deviation over seeds. '
                 f'The runs were evaluated with {len(settings)} different settings: one table '
                 'each, never pooled.', '']
    for setting in settings:
        named = dict(zip(SETTINGS, setting))
        if len(settings) > 1:
            lines += ['## memory {memory_size} train images, queries {query_size} test images, '
                      'kNN k={knn_k}, T={knn_temperature}'.format(**named), '',
                      protocol.format(**named), '']
        keys = [key for key in groups if key[0] == setting]
        # a method run with two configs: a row each, named by a config column
        configs = len({k[1:3] for k in keys}) < len(keys)
        config_cells = (' config |', ' --- |') if configs else ('', '')
        lines += ['| budget | method |' + config_cells[0] + ' runs | kNN top-1 (%) | linear '
                  'top-1 (%) | kNN of each run (seed: %) | train time (s, mean) |',
                  '| --- | --- |' + config_cells[1] + ' --- | --- | --- | --- | --- |']
        for key in keys:
            runs = sorted(groups[key], key=lambda r: r['seed'])
            each = ', '.join(f"{r['seed']}: {r['knn_top1']:.2f}" for r in runs)
            train = sum(r['train_s'] for r in runs) / len(runs)
            lines.append(f"| {key[1]} | {key[2]} | " + (f'{key[3]} | ' if configs else '') +
                         f"{len(runs)} | {mean_std([r['knn_top1'] for r in runs])} | "
                         f"{mean_std([r['linear_top1'] for r in runs])} | {each} | {train:.0f} |")
        if len(settings) > 1:
            lines.append('')
    commits = sorted({r['commit'][:10] for r in results})
    lines += ([] if len(settings) > 1 else ['']) + [
        f"Commits of the recorded runs: {', '.join(commits)}.", '']
    if notes:
        lines += ['Recorded more than once with the same numbers, counted once: '
                  f"{'; '.join(notes)}.", '']
    return '\n'.join(lines), groups


def report(args: argparse.Namespace) -> None:
    """``results.md`` (mean ± sample std and every run) and ``knn_per_epoch.png``."""
    from matplotlib.figure import Figure
    text, groups = results_markdown(args.results)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, 'results.md'), 'w') as f:
        f.write(text)
    print(text)

    # a panel per settings and budget; the settings in the title when there are several
    panels = list(dict.fromkeys(key[:2] for key in groups))
    several = len({key[0] for key in groups}) > 1
    fig = Figure(figsize=(6.5 * len(panels), 4.5))
    for ax, panel in zip(fig.subplots(1, len(panels), squeeze=False)[0], panels):
        keys = [k for k in groups if k[:2] == panel]
        for i, key in enumerate(keys):
            runs = groups[key]
            colour = f'C{ORDER.get(key[2], i) % 10}'
            label = key[2] if [k[2] for k in keys].count(key[2]) == 1 else \
                f'{key[2]} ({osp.basename(key[3])})'
            if key[2] in UNTRAINED:
                mean = sum(r['knn_top1'] for r in runs) / len(runs)
                ax.axhline(mean, color=colour, ls='--', lw=1,
                           label=f'{label} (final protocol, mean)')
                continue
            curves = [dict(map(tuple, r['knn_curve'])) for r in runs if r.get('knn_curve')]
            epochs = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
            if not epochs:
                continue
            values = [[c[e] for c in curves] for e in epochs]
            means = [sum(v) / len(v) for v in values]
            ax.plot(epochs, means, color=colour, marker='o', ms=3,
                    label=f'{label} (n={len(curves)})')
            ax.fill_between(epochs, [min(v) for v in values], [max(v) for v in values],
                            color=colour, alpha=0.2)
        ax.set_title(f'budget: {panel[1]}' + (', memory {}, k={}, T={}, queries {}'.format(
            *panel[0]) if several else ''))
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
    one.add_argument('--lock-fd', type=int, help=argparse.SUPPRESS)  # held by `run`
    one.add_argument('--parent-pid', type=int, help=argparse.SUPPRESS)
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
    if args.command != 'report' and args.memory_size < KNN['k']:
        parser.error(f"--memory-size {args.memory_size} is smaller than k={KNN['k']} of the "
                     f"kNN protocol, which votes over {KNN['k']} memory images: give "
                     f"--memory-size {KNN['k']} or more (the study's protocol uses 10000).")
    try:
        {'run': run_grid, 'one': run_one, 'report': report}[args.command](args)
    except ResultsFileError as err:
        sys.exit(f'study.py {args.command}: {err}')


if __name__ == '__main__':
    main()
