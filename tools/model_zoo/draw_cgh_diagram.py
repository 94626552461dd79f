"""Draw the CGH method diagram (student/teacher, two contexts, two queues, cross losses)."""
import argparse
import os.path as osp
from typing import Optional, Sequence

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from mmengine.utils import mkdir_or_exist

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT_OUT = osp.join(ROOT, 'docs', 'figures', 'cgh_method.png')

STUDENT, TEACHER = '#cfe2f3', '#fce5cd'
GLOBAL, HYPER, QUEUE, LOSS = '#d9ead3', '#ead1dc', '#eeeeee', '#fff2cc'


def box(ax, x: float, y: float, w: float, h: float, text: str, color: str,
        fontsize: int = 9) -> None:
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle='round,pad=0.02,rounding_size=0.08',
                                facecolor=color, edgecolor='#444444', linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha='center', va='center', fontsize=fontsize)


def arrow(ax, start, end, color: str = '#444444', linestyle: str = '-', rad: float = 0.0) -> None:
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle='-|>', mutation_scale=11,
                                 color=color, linestyle=linestyle, linewidth=1.2,
                                 connectionstyle=f'arc3,rad={rad}'))


def draw(out_path: str) -> str:
    """Render the diagram to ``out_path`` (PNG) and return the path."""
    fig = Figure(figsize=(12, 6.2))
    ax = fig.subplots()
    ax.set(xlim=(0, 12), ylim=(0, 6.2))
    ax.axis('off')

    # rows: student at the top, teacher (EMA) at the bottom
    for y, who, view, color in ((4.3, 'student', 'strong view', STUDENT),
                                (0.6, 'teacher (EMA)', 'weak view', TEACHER)):
        box(ax, 0.1, y + 0.35, 1.3, 0.8, f'image\n{view}', '#ffffff')
        box(ax, 1.8, y, 1.9, 1.5, f'{who}\nResNet\nstages 1-4', color)
        arrow(ax, (1.4, y + 0.75), (1.8, y + 0.75))
        box(ax, 4.2, y + 0.85, 2.1, 0.65, 'global: pool(stage 4)\n-> MLP -> L2', GLOBAL, 8)
        box(ax, 4.2, y - 0.05, 2.1, 0.75,
            'hypercolumn: resize +\nconcat(stage 3, 4) -> conv\n-> pool -> MLP -> L2', HYPER, 7)
        arrow(ax, (3.7, y + 1.1), (4.2, y + 1.15))
        arrow(ax, (3.7, y + 0.5), (4.2, y + 0.35))

    ax.text(2.6, 3.2, 'EMA update:\nteacher = m * teacher\n+ (1 - m) * student\nm = 0.999',
            ha='right', va='center', fontsize=8, style='italic')
    arrow(ax, (2.75, 4.3), (2.75, 2.1), linestyle='--')

    # queues: same slots hold the same past images
    box(ax, 6.9, 2.75, 1.7, 0.6, 'global queue Q_g', QUEUE, 8)
    box(ax, 6.9, 2.05, 1.7, 0.6, 'hypercolumn\nqueue Q_h', QUEUE, 8)
    ax.text(7.75, 3.5, 'slot j of both queues =\nthe same past image', ha='center', fontsize=7)
    arrow(ax, (6.3, 1.8), (6.9, 2.3), linestyle=':', rad=0.2)
    arrow(ax, (6.3, 0.9), (6.9, 2.2), linestyle=':', rad=0.3)
    ax.text(6.35, 1.2, 'enqueue', fontsize=7, rotation=45)

    # relations: softmax over the queue; (box y, arrow start y, text, colour)
    for y, start, text, color in (
            (5.15, 5.45, 'student global relation  q_g Q_g / 0.1', STUDENT),
            (4.35, 4.55, 'student hyper relation  q_h Q_h / 0.08', STUDENT),
            (1.45, 1.75, 'teacher global relation  k_g Q_g / 0.04', TEACHER),
            (0.65, 0.95, 'teacher hyper relation  k_h Q_h / 0.08', TEACHER)):
        box(ax, 9.0, y, 2.8, 0.55, text, color, 8)
        arrow(ax, (6.3, start), (9.0, y + 0.27))
    arrow(ax, (8.6, 3.05), (9.0, 5.15), color='#888888', rad=-0.2)
    arrow(ax, (8.6, 2.35), (9.0, 1.2), color='#888888', rad=0.2)

    # the cross-context losses
    for x, text in ((9.1, 'loss_hyper\nCE(teacher\nglobal ->\nstudent hyper)'),
                    (10.5, 'loss_global\nCE(teacher\nhyper ->\nstudent global)')):
        box(ax, x, 2.55, 1.3, 1.2, text, LOSS, 7)
    arrow(ax, (9.6, 2.0), (9.7, 2.55), color='#b45f06')
    arrow(ax, (9.7, 4.35), (9.75, 3.75), color='#b45f06')
    arrow(ax, (11.3, 1.2), (11.2, 2.55), color='#b45f06', rad=0.2)
    arrow(ax, (11.5, 5.15), (11.2, 3.75), color='#b45f06', rad=-0.2)

    ax.set_title('CGH: cross-context learning between global and hypercolumn features', fontsize=12)
    fig.text(0.5, 0.01, 'Loss = 0.5 * loss_hyper + 0.5 * loss_global, after an InfoNCE '
             'warm-up of 5 epochs (both queues, temperature 0.2). Gradients reach the '
             'student only.', ha='center', fontsize=8)
    mkdir_or_exist(osp.dirname(osp.abspath(out_path)))
    fig.savefig(out_path, dpi=120, bbox_inches='tight')
    return out_path


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--out', default=DEFAULT_OUT, help='PNG to write')
    print(draw(parser.parse_args(argv).out))


if __name__ == '__main__':
    main()
