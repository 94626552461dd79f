"""tools/test.py and tools/dist_test.sh evaluate a checkpoint of a downstream config."""
import argparse
import json
import pickle
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import DATASETS, MODELS

from tests.helpers import load_tool, raises_stating

from .dist_helpers import REPO, TINY_CONFIG, free_port, tool_env

NUM_IMAGES = 12

CLASSIFIER_CONFIG = f'''
default_scope = 'mmpretrain'
custom_imports = dict(imports=['cgh_mm.datasets'], allow_failed_imports=False)
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=4, mean=[127.5] * 3, std=[64.0] * 3, to_rgb=True),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='LinearClsHead', num_classes=4, in_channels=512,
              loss=dict(type='CrossEntropyLoss')))
test_dataloader = dict(
    batch_size=4, num_workers=0, sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='SyntheticImageDataset', num_images={NUM_IMAGES}, image_size=32,
                 num_classes=4, test_mode=True, pipeline=[dict(type='PackInputs')]))
test_cfg = dict()
test_evaluator = dict(type='Accuracy', topk=(1, ))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'WARNING'
'''


@pytest.fixture
def classifier(tmp_path):
    """A downstream config and an mmengine-style checkpoint of a random classifier."""
    config = tmp_path / 'classifier.py'
    config.write_text(CLASSIFIER_CONFIG)
    init_default_scope('mmpretrain')
    model = MODELS.build(Config.fromfile(str(config)).model)
    with torch.no_grad():  # a head that is not all zeros, so predictions differ
        model.head.fc.weight.normal_()
    checkpoint = tmp_path / 'classifier.pth'
    torch.save(dict(meta=dict(epoch=1), state_dict=model.state_dict()), checkpoint)
    model.eval()
    dataset = DATASETS.build(Config.fromfile(str(config)).test_dataloader.dataset)
    batch = model.data_preprocessor(
        dict(inputs=[dataset[i]['inputs'] for i in range(NUM_IMAGES)],
             data_samples=[dataset[i]['data_samples'] for i in range(NUM_IMAGES)]), False)
    with torch.no_grad():
        expected = [int(s.pred_label) for s in model(**batch, mode='predict')]
    labels = [int(dataset[i]['data_samples'].gt_label) for i in range(NUM_IMAGES)]
    return config, checkpoint, expected, labels


def run(command, env):
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.slow
def test_test_py_and_dist_test_sh(tmp_path, classifier):
    config, checkpoint, expected, labels = classifier
    # one process: the predictions of the checkpoint's model
    predictions_file = tmp_path / 'pred.pkl'
    run([sys.executable, str(REPO / 'tools' / 'test.py'), str(config), str(checkpoint),
         '--work-dir', str(tmp_path / 'work'), '--out', str(predictions_file)], tool_env())
    with open(predictions_file, 'rb') as f:
        predictions = pickle.load(f)
    assert [int(p['pred_label']) for p in predictions] == expected

    # two CPU ranks (gloo): the metric over the whole dataset
    metrics_file = tmp_path / 'metrics.json'
    run([str(REPO / 'tools' / 'dist_test.sh'), str(config), str(checkpoint), '2',
         '--work-dir', str(tmp_path / 'dist_work'), '--out', str(metrics_file),
         '--out-item', 'metrics'], tool_env(PORT=str(free_port())))
    accuracy = 100.0 * sum(p == y for p, y in zip(expected, labels)) / len(labels)
    assert json.loads(metrics_file.read_text())['accuracy/top1'] == pytest.approx(accuracy)


def test_pretraining_config_is_refused_with_the_reason():
    tool = load_tool(REPO / 'tools' / 'test.py', 'test_tool')
    args = argparse.Namespace(config=str(TINY_CONFIG), checkpoint='x.pth', work_dir=None,
                              cfg_options=None, launcher='none', amp=False)
    with raises_stating(ValueError, 'test_dataloader', 'test_cfg', 'test_evaluator'):
        tool.merge_args(Config.fromfile(str(TINY_CONFIG)), args)
