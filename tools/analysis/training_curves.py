"""Plot a CGH run from mmengine's ``vis_data/scalars.json`` (LocalVisBackend): its loss
terms and warm-up, its health metrics and its online kNN top-1. Given a work dir, the plots
show its latest run whole, the parts of a resumed run joined, and say which parts they drew
(:mod:`cgh_mm.runtime.scalar_logs`).

    python tools/analysis/training_curves.py WORK_DIR [--out-dir DIR]
"""
import argparse
import os
import os.path as osp

from cgh_mm.runtime.scalar_logs import load_run
from cgh_mm.visualization.training_curves import (
    plot_health,
    plot_knn_accuracy,
    plot_loss_terms,
)


def main() -> None:
    parser = argparse.ArgumentParser(description='Plot a CGH run from its scalars.json')
    parser.add_argument('work_dir', help="the run's work dir (its latest run is read, the "
                        'parts of a resumed run joined) or a scalars.json file')
    parser.add_argument('--out-dir', help='folder of the PNGs (default: WORK_DIR)')
    args = parser.parse_args()
    if osp.isdir(args.work_dir):
        _, parts = load_run(args.work_dir)
        print(f'{args.work_dir}: plotting from\n  ' + '\n  '.join(parts))
    out_dir = args.out_dir or (args.work_dir if osp.isdir(args.work_dir) else
                               osp.dirname(args.work_dir))
    plots = dict(cgh_loss_terms=plot_loss_terms, cgh_health=plot_health,
                 knn_accuracy=lambda p, out: plot_knn_accuracy({'online kNN monitor': p}, out))
    os.makedirs(out_dir, exist_ok=True)
    for name, plot in plots.items():
        out = osp.join(out_dir, f'{name}.png')
        try:
            plot(args.work_dir, out)
            print(out)
        except ValueError as err:  # e.g. a run without the kNN monitor
            print(f'{name}: skipped, {err}')


if __name__ == '__main__':
    main()
