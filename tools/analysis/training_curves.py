"""Plot a CGH run from mmengine's ``vis_data/scalars.json`` (LocalVisBackend): its loss
terms and warm-up, its health metrics and its online kNN top-1. Given a work dir, the plots
show its latest run whole, the parts of a resumed run joined, and say which parts they drew
(:mod:`cgh_mm.runtime.scalar_logs`). The health plot names the teacher of each target from
the run's ``model.head.teaching``, read from the config saved beside its scalars.json.

    python tools/analysis/training_curves.py WORK_DIR [--out-dir DIR]
"""
import argparse
import inspect
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config

from cgh_mm.runtime.scalar_logs import find_scalars_file, load_run, load_scalars
from cgh_mm.visualization.training_curves import (
    plot_health,
    plot_knn_accuracy,
    plot_loss_terms,
)


def run_teaching(source: str) -> Optional[str]:
    """``model.head.teaching`` of the run of ``source`` (a work dir: its newest part, or a
    scalars.json), from the ``config.py`` that LocalVisBackend saves beside scalars.json;
    None where there is none or the head is not a CrossContextHead."""
    scalars_file = find_scalars_file(source) if osp.isdir(source) else source
    config = osp.join(osp.dirname(scalars_file), 'config.py')
    if not osp.isfile(config):
        return None
    head = Config.fromfile(config, import_custom_modules=False).get('model', {}).get('head', {})
    if head.get('type') != 'CrossContextHead':
        return None
    from cgh_mm.models.heads.cross_context_head import CrossContextHead
    default = inspect.signature(CrossContextHead).parameters['teaching'].default
    return head.get('teaching', default)


def main() -> None:
    parser = argparse.ArgumentParser(description='Plot a CGH run from its scalars.json')
    parser.add_argument('work_dir', help="the run's work dir (its latest run is read, the "
                        'parts of a resumed run joined) or a scalars.json file')
    parser.add_argument('--out-dir', help='folder of the PNGs (default: WORK_DIR)')
    args = parser.parse_args()
    source = args.work_dir
    if osp.isdir(source):
        records, parts = load_run(source)
        print(f'{source}: plotting from\n  ' + '\n  '.join(parts))
    else:
        records = load_scalars(source)
    out_dir = args.out_dir or (source if osp.isdir(source) else osp.dirname(source))
    plots = dict(
        cgh_loss_terms=lambda out: plot_loss_terms(records, out, name=source),
        cgh_health=lambda out: plot_health(records, out, teaching=run_teaching(source),
                                           name=source),
        knn_accuracy=lambda out: plot_knn_accuracy({'online kNN monitor': records}, out))
    os.makedirs(out_dir, exist_ok=True)
    for name, plot in plots.items():
        out = osp.join(out_dir, f'{name}.png')
        try:
            plot(out)
            print(out)
        except ValueError as err:  # e.g. a run without the kNN monitor
            print(f'{name}: skipped, {err}')


if __name__ == '__main__':
    main()
