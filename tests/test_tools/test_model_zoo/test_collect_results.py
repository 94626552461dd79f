"""collect_results.py on a real (short) mmengine run and on hand-written logs."""
import glob
import json
import os.path as osp
import shutil
import uuid

import pytest
import yaml
from mmengine.config import Config
from mmengine.runner import Runner
from modelindex.load_model_index import load

from tools.model_zoo.collect_results import (
    collect_run,
    final_metrics,
    hardware_from_log,
    main,
    read_log_metrics,
    results_from_metrics,
    update_metafile,
    update_readme,
)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TINY = 'cgh_resnet18_1xb16-2e_synthetic'


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
    """Work dir of one epoch (2 iterations) of the tiny synthetic config at 32 px."""
    work_dir = tmp_path_factory.mktemp('runs') / TINY
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cgh', f'{TINY}.py'))
    cfg.work_dir = str(work_dir)
    # unique: mmengine keys loggers and visualizers by experiment name
    cfg.experiment_name = f'{TINY}_{uuid.uuid4().hex}'
    cfg.train_cfg.max_epochs = 1
    cfg.train_dataloader.dataset.num_images = 32
    cfg.train_dataloader.dataset.image_size = 32
    for view in cfg.train_dataloader.dataset.pipeline[0].transforms:
        view[0].scale = 32
    Runner.from_cfg(cfg).train()
    return str(work_dir)


@pytest.fixture
def zoo_copy(tmp_path):
    """Copies of the repository's metafile and README, so the test edits neither."""
    metafile = tmp_path / 'metafile.yml'
    readme = tmp_path / 'README.md'
    shutil.copy(osp.join(ROOT, 'configs', 'cgh', 'metafile.yml'), metafile)
    shutil.copy(osp.join(ROOT, 'configs', 'cgh', 'README.md'), readme)
    return str(metafile), str(readme)


def last_logged_loss(work_dir):
    (run_dir, ) = glob.glob(osp.join(work_dir, '2*'))
    with open(osp.join(run_dir, 'vis_data', 'scalars.json')) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r['loss'] for r in records if 'loss' in r][-1], osp.basename(run_dir)


def test_real_run_goes_into_metafile_and_readme(finished_run, zoo_copy):
    metafile, readme = zoo_copy
    loss, stamp = last_logged_loss(finished_run)
    date = f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}'

    name, results = collect_run(finished_run)
    assert name == TINY
    (result, ) = results
    assert result['Task'] == 'Self-Supervised Pre-training'
    assert result['Dataset'] == 'Synthetic images'
    assert result['Metrics'] == {'Final Loss': round(loss, 4)}
    assert result['Source']['Hardware'] == 'CPU, 1 process'
    assert result['Source']['Date'] == date
    assert result['Source']['Config'] == f'{TINY}.py'

    with open(metafile) as f:
        before = {m['Name']: m for m in yaml.safe_load(f)['Models']}
    main([finished_run, '--metafile', metafile, '--readme', readme])
    main([finished_run, '--metafile', metafile, '--readme', readme])  # idempotent
    with open(metafile) as f:
        models = {m['Name']: m for m in yaml.safe_load(f)['Models']}
    assert models[TINY]['Results'] == [result]
    # every other model keeps exactly the results it had
    assert all(m.get('Results') == before[n].get('Results')
               for n, m in models.items() if n != TINY)

    with open(readme) as f:
        text = f.read()
    block = text.split('<!-- results:pretraining:start -->')[1].split(
        '<!-- results:pretraining:end -->')[0]
    (row, ) = [line for line in block.splitlines() if TINY in line]
    assert f'{round(loss, 4):.4g}' in row and date in row and 'CPU, 1 process' in row
    assert 'not yet measured' in block  # the ImageNet configs have no run
    assert text.count('<!-- results:pretraining:start -->') == 1

    # mim-style tooling still reads the written metafile
    index = load(metafile)
    tiny = next(m for m in index.models if m.name == TINY)
    assert tiny.results[0].metrics == {'Final Loss': round(loss, 4)}


def test_scalars_json_evaluation_record_wins_over_training_loss(tmp_path):
    run_dir = tmp_path / '20250301_120000'
    (run_dir / 'vis_data').mkdir(parents=True)
    records = [
        {'lr': 0.3, 'loss': 6.9, 'time': 0.5, 'data_time': 0.1, 'epoch': 1, 'iter': 10,
         'step': 10},
        {'accuracy/top1': 41.25, 'accuracy/top5': 70.5, 'data_time': 0.02, 'time': 0.1,
         'step': 1},
        {'lr': 0.1, 'loss': 3.2, 'time': 0.5, 'data_time': 0.1, 'epoch': 2, 'iter': 20,
         'step': 20},
        {'accuracy/top1': 55.123456, 'accuracy/top5': 80.0, 'data_time': 0.02, 'time': 0.1,
         'step': 2},
    ]
    (run_dir / 'vis_data' / 'scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in records) + '\n')
    kind, metrics = final_metrics(str(run_dir))
    assert kind == 'val'
    assert metrics == {'accuracy/top1': 55.123456, 'accuracy/top5': 80.0}
    (result, ) = results_from_metrics(kind, metrics, 'ImageNet-1k')
    assert result == dict(Task='Image Classification', Dataset='ImageNet-1k',
                          Metrics={'Top 1 Accuracy': 55.1235, 'Top 5 Accuracy': 80.0})


def test_log_test_lines_win_and_tasks_split(tmp_path):
    run_dir = tmp_path / '20250301_120000'
    run_dir.mkdir()
    (run_dir / '20250301_120000.log').write_text(
        '2025/03/01 12:00:00 - mmengine - INFO - Iter(val) [10/10]    coco/bbox_mAP: 0.1000'
        '  data_time: 0.0100  time: 0.2000\n'
        '2025/03/01 13:00:00 - mmengine - INFO - Epoch(test) [10/10]    coco/bbox_mAP: 0.3810'
        '  coco/bbox_mAP_50: 0.5900  coco/segm_mAP: 0.3320  data_time: 0.0100  time: 0.2000\n')
    kind, metrics = final_metrics(str(run_dir))
    assert kind == 'test'
    assert metrics == {'coco/bbox_mAP': 0.381, 'coco/bbox_mAP_50': 0.59, 'coco/segm_mAP': 0.332}
    results = results_from_metrics(kind, metrics, 'COCO')
    assert {r['Task']: r['Metrics'] for r in results} == {
        'Object Detection': {'box AP': 0.381, 'box AP50': 0.59},
        'Instance Segmentation': {'mask AP': 0.332}}
    assert read_log_metrics(str(run_dir / '20250301_120000.log'))[0][0] == 'val'


def test_hardware_from_a_gpu_log_header():
    header = ('    CUDA available: True\n    GPU 0,1,2,3,4,5,6,7: NVIDIA A100-SXM4-80GB\n'
              '    Distributed training: True\n    GPU number: 8\n')
    assert hardware_from_log(header) == '8x NVIDIA A100-SXM4-80GB'
    assert hardware_from_log('    CUDA available: False\n    GPU number: 2\n') == \
        'CPU, 2 processes'


def test_errors_name_the_problem(tmp_path, zoo_copy):
    with pytest.raises(FileNotFoundError, match='no finished run'):
        collect_run(str(tmp_path))
    with pytest.raises(KeyError, match='no_such_config'):
        update_metafile({'Models': [{'Name': TINY}]}, 'no_such_config', [])
    with pytest.raises(ValueError, match='markers'):
        update_readme('# no tables here\n', {'Models': []})
    with pytest.raises(ValueError, match='METRIC_NAMES'):
        results_from_metrics('val', {'mystery/score': 1.0}, 'COCO')
