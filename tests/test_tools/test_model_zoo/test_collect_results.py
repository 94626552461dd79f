"""collect_results.py: only finished runs of exactly the zoo config are collected.

One real (two-iteration) run of a tiny zoo config; killed, overridden and resumed
variants are copies of its work dir, edited as such runs would have left them.
"""
import json
import os
import os.path as osp
import shutil
import uuid

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.runner import Runner
from modelindex.load_model_index import load

from tests.helpers import TOOLS, load_tool, raises_stating

collect_results = load_tool(osp.join(TOOLS, 'model_zoo', 'collect_results.py'))
collect_run, config_differences, final_metrics, hardware_from_log, main = (
    collect_results.collect_run, collect_results.config_differences,
    collect_results.final_metrics, collect_results.hardware_from_log, collect_results.main)
results_from_metrics, update_metafile, update_readme = (
    collect_results.results_from_metrics, collect_results.update_metafile,
    collect_results.update_readme)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
NAME = 'cgh_tiny_1xb8'
# The synthetic smoke config at 2 iterations: 16 images, batch 8, queues of 16 (one
# refill = 2 iterations = the one-epoch warm-up, as CGHHealthHook requires).
TINY_CONFIG = f'''
_base_ = [{osp.join(ROOT, 'configs/cgh/cgh_resnet18_1xb16-2e_synthetic.py')!r}]
model = dict(queue_len=16)
train_dataloader = dict(batch_size=8, dataset=dict(num_images=16))
train_cfg = dict(max_epochs=1)
'''
README = ''.join(f'## {t}\n<!-- results:{t}:start -->\n<!-- results:{t}:end -->\n'
                 for t in ('pretraining', 'knn'))


def tiny_metafile(batch_size=8):
    return {'Collections': [{'Name': 'CGH'}], 'Models': [{
        'Name': NAME, 'In Collection': 'CGH', 'Config': f'configs/{NAME}.py',
        'Metadata': {'Benchmark': 'pretraining', 'Batch Size': batch_size,
                     'Training Data': 'Synthetic images'}}]}


@pytest.fixture(scope='module')
def zoo(tmp_path_factory):
    """(repository root of a one-model zoo, work dir of a finished run of its config)."""
    root = tmp_path_factory.mktemp('zoo')
    (root / 'configs').mkdir()
    (root / 'configs' / f'{NAME}.py').write_text(TINY_CONFIG)
    cfg = Config.fromfile(str(root / 'configs' / f'{NAME}.py'))
    cfg.work_dir = str(root / 'work_dirs' / NAME)
    cfg.experiment_name = f'{NAME}_{uuid.uuid4().hex}'  # mmengine keys loggers by name
    Runner.from_cfg(cfg).train()
    return root, cfg.work_dir


def variant(zoo, tmp_path, edit_config=None, edit_log=None):
    """A copy of the finished run's work dir, its config copy or log edited."""
    work_dir = str(tmp_path / NAME)
    shutil.copytree(zoo[1], work_dir, ignore=shutil.ignore_patterns('*.pth'))
    if edit_config:
        dumped = osp.join(work_dir, f'{NAME}.py')
        cfg = Config.fromfile(dumped)
        edit_config(cfg)
        cfg.dump(dumped)
    if edit_log:
        (log, ) = [osp.join(d, f) for d, _, fs in os.walk(work_dir)
                   for f in fs if f.endswith('.log')]
        with open(log) as f:
            text = f.read()
        with open(log, 'w') as f:
            f.write(edit_log(text))
    return work_dir


@pytest.mark.slow
def test_finished_run_of_the_zoo_config_is_collected(zoo, tmp_path, monkeypatch):
    root, work_dir = zoo
    (scalars, ) = [osp.join(d, f) for d, _, fs in os.walk(work_dir)
                   for f in fs if f == 'scalars.json']
    with open(scalars) as f:
        loss = [json.loads(line)['loss'] for line in f if '"loss"' in line][-1]
    stamp = osp.basename(osp.dirname(osp.dirname(scalars)))

    name, (result, ) = collect_run(work_dir, tiny_metafile(), root=str(root))
    assert name == NAME
    assert result['Task'] == 'Self-Supervised Pre-training'
    assert result['Dataset'] == 'Synthetic images'
    assert result['Metrics'] == {'Final Loss': round(loss, 4)}
    assert result['Source'] == dict(
        Config=f'{NAME}.py', Hardware='CPU, 1 process', Measured='with cgh-mm',
        Date=f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}',
        Evaluation='last logged training iteration')

    # the command line writes metafile and README, twice without change
    metafile, readme = tmp_path / 'metafile.yml', tmp_path / 'README.md'
    metafile.write_text(yaml.safe_dump(tiny_metafile(), sort_keys=False))
    readme.write_text(README)
    monkeypatch.setattr(collect_results, 'ROOT', str(root))
    for _ in range(2):
        main([work_dir, '--metafile', str(metafile), '--readme', str(readme)])
    assert yaml.safe_load(metafile.read_text())['Models'][0]['Results'] == [result]
    (row, ) = [line for line in readme.read_text().splitlines() if NAME in line]
    assert f'{round(loss, 4):.4g}' in row and 'CPU, 1 process' in row
    assert 'not yet measured' in readme.read_text()  # the kNN table: no kNN monitor
    # mim's reader (model-index) still reads the written metafile
    (model, ) = load(str(metafile)).models
    assert model.results[0].metrics == {'Final Loss': round(loss, 4)}


@pytest.mark.slow
def test_killed_run_is_refused_and_nothing_is_written(zoo, tmp_path, monkeypatch):
    """SIGKILL before the end: the log stops before the last checkpoint."""
    work_dir = variant(zoo, tmp_path, edit_log=lambda t: t[:t.index('Saving checkpoint')])
    with raises_stating(ValueError, 'unfinished', 'Saving checkpoint at 1 epochs'):
        collect_run(work_dir, tiny_metafile(), root=str(zoo[0]))
    metafile, readme = tmp_path / 'metafile.yml', tmp_path / 'README.md'
    metafile.write_text(yaml.safe_dump(tiny_metafile(), sort_keys=False))
    readme.write_text(README)
    monkeypatch.setattr(collect_results, 'ROOT', str(zoo[0]))
    with raises_stating(ValueError, work_dir, 'Saving checkpoint at 1 epochs'):
        main([work_dir, '--metafile', str(metafile), '--readme', str(readme)])
    assert yaml.safe_load(metafile.read_text()) == tiny_metafile()
    assert readme.read_text() == README


@pytest.mark.slow
def test_smoke_run_with_overrides_is_refused_naming_each_key(zoo, tmp_path):
    def smoke(cfg):
        cfg.train_dataloader.dataset.num_images = 8
        cfg.train_cfg.max_epochs = 3

    with pytest.raises(ValueError) as err:
        collect_run(variant(zoo, tmp_path, smoke), tiny_metafile(), root=str(zoo[0]))
    message = str(err.value)
    assert 'train_dataloader.dataset.num_images: 16 -> 8' in message
    assert 'train_cfg.max_epochs: 1 -> 3' in message
    assert 'Saving checkpoint at 3 epochs' in message  # and it did not finish its own


@pytest.mark.slow
def test_per_run_keys_and_amp_are_accepted(zoo, tmp_path):
    def relaunched(cfg):
        cfg.work_dir, cfg.launcher, cfg.resume = '/elsewhere', 'pytorch', True
        cfg.load_from = '/elsewhere/epoch_1.pth'
        cfg.visualizer.vis_backends.append(dict(type='TensorboardVisBackend'))
        cfg.env_cfg.dist_cfg = dict(backend='gloo')
        cfg.model_wrapper_cfg = dict(type='MMDistributedDataParallel', device_ids=None)
        cfg.optim_wrapper.type, cfg.optim_wrapper.loss_scale = 'AmpOptimWrapper', 'dynamic'

    _, (result, ) = collect_run(variant(zoo, tmp_path, relaunched), tiny_metafile(),
                                root=str(zoo[0]))
    assert result['Source']['Hardware'] == 'CPU, 1 process, AMP'


@pytest.mark.slow
def test_global_batch_must_be_the_metafiles(zoo):
    with raises_stating(ValueError, 'global batch 8', 'metafile', '16'):
        collect_run(zoo[1], tiny_metafile(batch_size=16), root=str(zoo[0]))


def test_config_differences_ignore_only_run_keys():
    zoo = dict(model=dict(queue_len=16, backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint='a.pth'))), work_dir='a', custom_hooks=[])
    run = dict(model=dict(queue_len=16, backbone=dict(init_cfg=dict(
        type='Pretrained', checkpoint='work_dirs/x/backbone.pth'))), work_dir='b',
        launcher='slurm', custom_hooks=[])
    assert config_differences(zoo, run) == []
    run['model']['queue_len'], run['custom_hooks'] = 32, [dict(type='X')]
    run['model']['backbone']['init_cfg']['type'] = 'StrictPretrained'
    assert config_differences(zoo, run) == [
        "custom_hooks: [] -> '(absent)'", "custom_hooks.0.type: '(absent)' -> 'X'",
        "model.backbone.init_cfg.type: 'Pretrained' -> 'StrictPretrained'",
        'model.queue_len: 16 -> 32']


ITER_CFG = dict(train_cfg=dict(type='IterBasedTrainLoop', max_iters=24000))
TRAIN = ('2025/03/01 12:00:00 - mmengine - INFO - Iter(train) [{0}/24000]  base_lr: 2.0e-02 '
         'lr: 2.0e-02  eta: 0:00:01  time: 0.5000  data_time: 0.0100  loss: 0.5000\n')
SAVED = '2025/03/01 12:00:01 - mmengine - INFO - Saving checkpoint at {0} iterations\n'
VAL = ('2025/03/01 12:00:02 - mmengine - INFO - Iter(val) [4952/4952]    pascal_voc/mAP: '
       '{0}  pascal_voc/AP50: {0}  data_time: 0.0100  time: 0.2000\n')


def test_evaluation_must_follow_the_last_iteration():
    done = TRAIN.format(22000) + SAVED.format(22000) + VAL.format('0.7000') + \
        TRAIN.format(24000) + SAVED.format(24000) + VAL.format('0.8000')
    assert final_metrics(done, ITER_CFG) == (
        'val', {'pascal_voc/mAP': 0.8, 'pascal_voc/AP50': 0.8})
    cut = done[:done.rindex('Iter(val)')]  # killed during the last evaluation
    with raises_stating(ValueError, 'no evaluation', 'Saving checkpoint at 24000 iterations'):
        final_metrics(cut, ITER_CFG)
    smoke = TRAIN.format(3) + SAVED.format(3) + VAL.format('0.0000')
    with raises_stating(ValueError, 'Saving checkpoint at 24000 iterations'):
        final_metrics(smoke, ITER_CFG)


def test_test_run_counts_only_for_the_final_checkpoint(tmp_path):
    log = ('2025/03/01 13:00:00 - mmengine - INFO - Epoch(test) [10/10]    coco/bbox_mAP: '
           '0.3810  coco/bbox_mAP_50: 0.5900  coco/segm_mAP: 0.3320  time: 0.2000\n')
    cfg = dict(train_cfg=dict(max_epochs=12), load_from=str(tmp_path / 'epoch.pth'))
    torch.save(dict(meta=dict(epoch=12, iter=90000), state_dict={}), cfg['load_from'])
    kind, metrics = final_metrics(log, cfg)
    assert (kind, metrics) == ('test', {'coco/bbox_mAP': 0.381, 'coco/bbox_mAP_50': 0.59,
                                        'coco/segm_mAP': 0.332})
    assert {r['Task']: r['Metrics'] for r in results_from_metrics(kind, metrics, 'COCO')} == {
        'Object Detection': {'box AP': 0.381, 'box AP50': 0.59},
        'Instance Segmentation': {'mask AP': 0.332}}
    torch.save(dict(meta=dict(epoch=6, iter=45000), state_dict={}), cfg['load_from'])
    with raises_stating(ValueError, cfg['load_from'], 'epoch 6', '12'):
        final_metrics(log, cfg)


def test_knn_results_name_their_k():
    (result, ) = results_from_metrics('val', {'knn/top1': 77.95123}, 'Fashion-MNIST', 20)
    assert result == dict(Task='kNN Classification', Dataset='Fashion-MNIST',
                          Metrics={'kNN Top 1 Accuracy (k=20)': 77.9512})


def test_hardware_from_a_gpu_log_header():
    header = ('    CUDA available: True\n    GPU 0,1,2,3,4,5,6,7: NVIDIA A100-SXM4-80GB\n'
              '    Distributed training: True\n    GPU number: 8\n')
    assert hardware_from_log(header) == '8x NVIDIA A100-SXM4-80GB'
    assert hardware_from_log('    CUDA available: False\n    GPU number: 2\n') == \
        'CPU, 2 processes'


def test_errors_name_the_problem(tmp_path):
    with raises_stating(FileNotFoundError, str(tmp_path)):
        collect_run(str(tmp_path), tiny_metafile())
    # the name asked for, the names there are, the option that picks another
    with raises_stating(KeyError, "'no_such_config'", NAME, '--name'):
        update_metafile(tiny_metafile(), 'no_such_config', [])
    with raises_stating(ValueError, 'results:TABLE:start', 'results:TABLE:end'):
        update_readme('# no tables here\n', {'Models': []})
    # the unknown key, the known ones, and where to add it
    with raises_stating(ValueError, "'mystery/score'", "'knn/top1'", 'METRIC_NAMES',
                        'tools/model_zoo/collect_results.py'):
        results_from_metrics('val', {'mystery/score': 1.0}, 'COCO')


def zoo_with_tables():
    """A pretraining model with a collected loss, a linear probe with a top-1 and one not
    yet measured, each in its own README table."""
    source = dict(Config='x.py', Hardware='CPU, 1 process', Date='2026-01-01',
                  Measured='with cgh-mm', Evaluation='validation set')
    models = [
        dict(Name='pre', Config='configs/pre.py', Metadata={
            'Benchmark': 'pretraining', 'Training Data': 'Synthetic images'},
            Results=[dict(Task='Self-Supervised Pre-training', Dataset='Synthetic images',
                          Metrics={'Final Loss': 2.5}, Source=source)]),
        dict(Name='probe', Config='configs/probe.py', Metadata={
            'Benchmark': 'linear-probe', 'Evaluation Data': 'CIFAR-10 test'},
            Results=[dict(Task='Image Classification', Dataset='CIFAR-10 test',
                          Metrics={'Top 1 Accuracy': 81.25}, Source=source)]),
        dict(Name='probe2', Config='configs/probe2.py', Metadata={
            'Benchmark': 'linear-probe', 'Evaluation Data': 'ImageNet-1k val'}),
        dict(Name='voc', Config='configs/voc.py', Metadata={
            'Benchmark': 'voc-detection', 'Evaluation Data': 'VOC07 test'}),
    ]
    readme = ''.join(f'<!-- results:{t}:start -->\n<!-- results:{t}:end -->\n'
                     for t in ('pretraining', 'linear-probe', 'voc-detection', 'knn'))
    return dict(Models=models), readme


def table_rows(text, table):
    start, end = f'<!-- results:{table}:start -->', f'<!-- results:{table}:end -->'
    return text[text.index(start) + len(start):text.index(end)].strip().splitlines()


def test_each_result_is_written_into_its_own_table_only():
    metafile, readme = zoo_with_tables()
    text = update_readme(readme, metafile)
    header, _, *rows = table_rows(text, 'pretraining')
    assert header == '| Model | Dataset | Final Loss | Source |'
    assert len(rows) == 1 and '[pre]' in rows[0] and '2.5' in rows[0]
    header, _, *rows = table_rows(text, 'linear-probe')
    assert header == '| Model | Dataset | Top 1 Accuracy | Source |'
    assert [r.split('|')[1].strip()[:7] for r in rows] == ['[probe]', '[probe2']
    assert '81.25' in rows[0] and 'not yet measured' in rows[1]
    header, _, *rows = table_rows(text, 'voc-detection')
    assert header == '| Model | Dataset | Result | Source |'
    assert len(rows) == 1 and '[voc]' in rows[0] and 'not yet measured' in rows[0]
    _, _, *rows = table_rows(text, 'knn')
    assert len(rows) == 1 and 'not yet measured' in rows[0] and '[' not in rows[0]


def test_a_model_without_a_table_is_refused():
    """A model whose results the README could not show is named, not silently dropped."""
    metafile, readme = zoo_with_tables()
    metafile['Models'][0]['Metadata']['Benchmark'] = 'pretrainig'
    with raises_stating(ValueError, 'pre', "'pretrainig'", 'pretraining', 'Benchmark'):
        update_readme(readme, metafile)
    del metafile['Models'][0]['Metadata']['Benchmark']
    with raises_stating(ValueError, 'pre', 'Benchmark'):
        update_readme(readme, metafile)


def test_results_of_different_runs_in_one_row_name_each_source():
    """A second evaluation that measures only part of a row's metrics does not lend its
    source to the numbers of the first."""
    metafile, readme = zoo_with_tables()
    voc = metafile['Models'][3]
    old = dict(Config='voc.py', Hardware='8x A100', Date='2026-01-01', Measured='with cgh-mm',
               Evaluation='test set')
    voc['Results'] = [
        dict(Task='Object Detection', Dataset='VOC07 test', Metrics={'AP50': 80.5}, Source=old),
        dict(Task='Instance Segmentation', Dataset='VOC07 test', Metrics={'mask AP': 30.5},
             Source=dict(old, Date='2026-02-02', Hardware='4x H100'))]
    (row, ) = table_rows(update_readme(readme, metafile), 'voc-detection')[2:]
    source = row.split('|')[-2]
    assert '2026-01-01' in source and '2026-02-02' in source
    assert source.index('AP50') < source.index('2026-01-01') < source.index('mask AP') < \
        source.index('2026-02-02')
