"""Training curves from mmengine's ``vis_data/scalars.json`` (LocalVisBackend).

Each line of that file is one JSON record: train records carry the logged
scalars (``loss_*``, ``alpha``, ``lr``) with ``step`` = iteration; validation
records carry the metrics (e.g. ``knn/top1``) with ``step`` = epoch.
"""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import matplotlib

matplotlib.use('Agg')  # files only: no display on training machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

LOSS_TERMS = ('loss_nce', 'loss_hyper', 'loss_global')


def find_scalars_file(work_dir: str) -> str:
    """The newest ``<work_dir>/<timestamp>/vis_data/scalars.json``."""
    candidates = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')),
                        key=osp.getmtime)
    if not candidates:
        raise FileNotFoundError(
            f'no */vis_data/scalars.json under {work_dir}: train with '
            "`vis_backends=[dict(type='LocalVisBackend')]` (default_runtime.py) first.")
    return candidates[-1]


def load_scalars(path: str) -> List[Dict]:
    """All records of a ``scalars.json`` file, in order."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def scalar_series(records: Sequence[Dict], key: str) -> Tuple[List[float], List[float]]:
    """``(steps, values)`` of the records that contain ``key``."""
    pairs = [(r['step'], r[key]) for r in records if key in r and 'step' in r]
    return [float(s) for s, _ in pairs], [float(v) for _, v in pairs]


def plot_loss_terms(scalars_path: str, out_path: Optional[str] = None,
                    terms: Sequence[str] = LOSS_TERMS) -> Figure:
    """The (weighted) CGH loss terms and the warm-up ``alpha`` per iteration.

    Saves a PNG to ``out_path`` when given; returns the figure.
    """
    records = load_scalars(scalars_path)
    fig, (ax_loss, ax_alpha) = plt.subplots(
        2, 1, figsize=(7, 5.5), sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    plotted = 0
    for term in terms:
        steps, values = scalar_series(records, term)
        if steps:
            ax_loss.plot(steps, values, label=term, linewidth=1.2)
            plotted += 1
    if plotted == 0:
        raise ValueError(f'{scalars_path} has none of {list(terms)}: is it a CGH run?')
    ax_loss.set_ylabel('weighted loss term')
    ax_loss.set_title('CGH loss terms')
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    steps, values = scalar_series(records, 'alpha')
    ax_alpha.plot(steps, values, color='black', linewidth=1.2)
    ax_alpha.set_ylabel('alpha')
    ax_alpha.set_xlabel('iteration')
    ax_alpha.set_ylim(-0.05, 1.05)
    ax_alpha.grid(alpha=0.3)
    fig.tight_layout()
    if out_path:
        fig.savefig(out_path, dpi=120)
    return fig


def plot_knn_accuracy(scalars_path: str, out_path: Optional[str] = None,
                      key: str = 'knn/top1', baseline: Optional[float] = None,
                      label: Optional[str] = None,
                      baseline_label: str = 'random init') -> Figure:
    """Online kNN top-1 per validation epoch; ``baseline`` draws a reference line.

    Saves a PNG to ``out_path`` when given; returns the figure.
    """
    steps, values = scalar_series(load_scalars(scalars_path), key)
    if not steps:
        raise ValueError(f'{scalars_path} has no `{key}`: was the kNN monitor '
                         '(KNNValLoop + WeightedKNNAccuracy) on?')
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(steps, values, marker='o', label=label or key)
    if baseline is not None:
        ax.axhline(baseline, color='grey', linestyle='--', label=baseline_label)
    ax.set_xlabel('epoch')
    ax.set_ylabel('kNN top-1 (%)')
    ax.set_title('Online weighted kNN accuracy')
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    if out_path:
        fig.savefig(out_path, dpi=120)
    return fig
