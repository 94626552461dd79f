"""Figures of a CGH run from its scalar logs: its loss terms and warm-up, its health
metrics and its online kNN top-1 (``tools/analysis/training_curves.py``, ``tools/demo.py``).

Each takes a run's records as :func:`~cgh_mm.runtime.scalar_logs.load_scalars` returns them
(``{'train': [...], 'val': [...]}``), so that a run read once serves every figure; ``name``
says in an error which run it was.

Figure objects, not pyplot: no backend is chosen or switched (the user's stays as it is),
and nothing is kept in pyplot's figure list after the caller drops the figure.
"""
from typing import Dict, List, Optional, Sequence

from matplotlib.figure import Figure

from ..runtime.scalar_logs import scalar_series

Records = Dict[str, List[Dict]]  # a run's records: load_scalars(...)

LOSS_TERMS = ('loss_nce', 'loss_hyper', 'loss_global')
# panel title -> (health key, label) pairs, as CrossContextHead logs them; a run logs the
# keys of its contexts (teaching='global': the global ones only)
HEALTH_PANELS = {
    'target entropy / ln K (1 = flat, no signal)': (
        ('health/hyper_target_entropy', 'loss_hyper target'),
        ('health/global_target_entropy', 'loss_global target')),
    'KL part of the loss (nats; 0 = nothing to learn)': (
        ('health/hyper_kl', 'loss_hyper'), ('health/global_kl', 'loss_global')),
    'mean cosine between images of a batch (1 = collapsed)': (
        ('health/student_global_cos', 'student global'),
        ('health/student_hyper_cos', 'student hypercolumn'),
        ('health/teacher_global_cos', 'teacher global'),
        ('health/teacher_hyper_cos', 'teacher hypercolumn')),
}
_TARGET_ENTROPY = 'health/{}_target_entropy'


def _teacher_labels(teaching: str) -> Dict[str, str]:
    """Label of each ``health/*_target_entropy`` key naming the context whose relations
    are the target under ``teaching`` (CrossContextHead's)."""
    # what the head and the health hook say; imported here: they import mmpretrain
    from ..engine.hooks.cgh_health_hook import teacher_contexts
    from ..models.heads.cross_context_head import TEACHING
    if teaching not in TEACHING:
        raise ValueError(f'teaching={teaching!r}: CrossContextHead knows {list(TEACHING)}; '
                         "give the run's model.head.teaching, or None for neutral labels.")
    return {_TARGET_ENTROPY.format(name): f'loss_{name} target (teacher {context})'
            for name, context in teacher_contexts(teaching).items()}


def _save(fig: Figure, out_path: Optional[str]) -> Figure:
    fig.tight_layout()
    if out_path:
        fig.savefig(out_path, dpi=120)
    return fig


def plot_loss_terms(records: Records, out_path: Optional[str] = None,
                    terms: Sequence[str] = LOSS_TERMS, name: str = 'the run') -> Figure:
    """The (weighted) CGH loss terms and the warm-up ``alpha`` per iteration."""
    records = records['train']
    fig = Figure(figsize=(7, 5.5))
    ax_loss, ax_alpha = fig.subplots(2, 1, sharex=True, gridspec_kw=dict(height_ratios=(3, 1)))
    series = {term: scalar_series(records, term) for term in terms}
    if not any(steps for steps, _ in series.values()):
        raise ValueError(f'{name} has none of {list(terms)}: is it a CGH run?')
    for term, (steps, values) in series.items():
        if steps:
            ax_loss.plot(steps, values, label=term, linewidth=1.2)
    ax_loss.set(ylabel='weighted loss term', title='CGH loss terms')
    ax_loss.legend()
    ax_alpha.plot(*scalar_series(records, 'alpha'), color='black', linewidth=1.2)
    ax_alpha.set(ylabel='alpha', xlabel='iteration', ylim=(-0.05, 1.05))
    for ax in (ax_loss, ax_alpha):
        ax.grid(alpha=0.3)
    return _save(fig, out_path)


def plot_knn_accuracy(runs: Dict[str, Records], out_path: Optional[str] = None,
                      baselines: Optional[Dict[str, float]] = None,
                      key: str = 'knn/top1') -> Figure:
    """Online kNN top-1 per validation epoch of each run (label -> its records), with
    reference values (label -> accuracy) drawn as horizontal lines."""
    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for label, records in runs.items():
        steps, values = scalar_series(records['val'], key)
        if not steps:
            raise ValueError(f'{label} has no `{key}`: was the kNN monitor (KNNValLoop + '
                             'WeightedKNNAccuracy) on?')
        ax.plot(steps, values, marker='o', label=label)
    for (label, value), style in zip((baselines or {}).items(), ('--', ':', '-.')):
        ax.axhline(value, color='grey', linestyle=style, label=label)
    ax.set(xlabel='epoch', ylabel='kNN top-1 (%)', title='weighted kNN accuracy')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, out_path)


def plot_health(records: Records, out_path: Optional[str] = None,
                teaching: Optional[str] = None, name: str = 'the run') -> Figure:
    """CGH's health metrics per iteration, the InfoNCE warm-up shaded: each panel draws
    the keys the run logged. ``teaching``: the run's ``model.head.teaching``; the labels
    of the targets then name the teacher context (None: not named)."""
    records = records['train']
    labels = _teacher_labels(teaching) if teaching is not None else {}
    fig = Figure(figsize=(7, 8.5))
    axes = fig.subplots(len(HEALTH_PANELS), 1, sharex=True)
    warmup = [s for s, a in zip(*scalar_series(records, 'alpha')) if a < 1]
    for ax, (title, keys) in zip(axes, HEALTH_PANELS.items()):
        for key, label in keys:
            steps, values = scalar_series(records, key)
            if steps:
                ax.plot(steps, values, label=labels.get(key, label), linewidth=1.2)
        if not ax.lines:
            raise ValueError(f'{name} has none of {[key for key, _ in keys]}: is it a '
                             'CGH run? (CrossContextHead logs them)')
        if warmup:
            ax.axvspan(min(warmup), max(warmup), color='grey', alpha=0.15)
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylim(top=1.02)
    axes[-1].set_xlabel('iteration (grey: InfoNCE warm-up)')
    return _save(fig, out_path)
