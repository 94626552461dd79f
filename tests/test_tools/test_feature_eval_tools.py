"""tools/analysis/knn_eval.py and cluster_eval.py run as commands, on known features
and end to end on generated images with a tiny CGH checkpoint."""
import json
import os.path as osp
import re

import pytest
import torch

from cgh_mm.evaluation import weighted_knn_accuracy
from cgh_mm.evaluation.feature_sets import load_feature_sets
from tests.helpers import raises_stating, run_tool, save_tiny_cgh_checkpoint

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..'))
KNN = osp.join(ROOT, 'tools', 'analysis', 'knn_eval.py')
CLUSTER = osp.join(ROOT, 'tools', 'analysis', 'cluster_eval.py')

EVAL_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['cgh_mm.datasets'], allow_failed_imports=False)
model = dict(backbone=dict(type='ResNet', depth=18, out_indices=(3, )))
pipeline = [dict(type='PackInputs')]
train_dataloader = dict(batch_size=8, dataset=dict(
    type='SyntheticImageDataset', num_images=24, image_size=32, num_classes=3, seed=0,
    pipeline=pipeline))
test_dataloader = dict(batch_size=8, dataset=dict(
    type='SyntheticImageDataset', num_images=12, image_size=32, num_classes=3, seed=1,
    pipeline=pipeline))
"""


def separable_features(path, wrong_query_labels=0):
    """3 classes on orthogonal axes; the first ``wrong_query_labels`` query labels lie."""
    gen = torch.Generator().manual_seed(0)

    def points(labels):
        feats = torch.nn.functional.one_hot(labels, 8).float() * 5
        return feats + 0.1 * torch.randn(len(labels), 8, generator=gen)

    train_labels = torch.arange(30) % 3
    test_labels = torch.arange(12) % 3
    test_features = points(test_labels)
    test_labels = test_labels.clone()
    test_labels[:wrong_query_labels] = (test_labels[:wrong_query_labels] + 1) % 3
    torch.save(dict(train_features=points(train_labels), train_labels=train_labels,
                    test_features=test_features, test_labels=test_labels), str(path))


def test_knn_known_results_from_loaded_features(tmp_path):
    feats, out = tmp_path / 'feats.pth', tmp_path / 'knn.json'
    separable_features(feats)
    stdout = run_tool(KNN, '--load-features', feats, '--out', out)
    assert 'top-1' in stdout
    top1 = json.loads(out.read_text())['top1']
    # k=100 and k=200 exceed the 30 memory samples: reported as the k=30 they ran with
    assert set(top1) == {'10', '20', '30'}
    assert '100 |' not in stdout and '    30 |' in stdout
    assert 'k=100, 200' in stdout and '30 memory samples' in stdout
    assert all(acc == pytest.approx(100.0) for acc in top1.values())
    # a low temperature, where exp(sim / T) alone overflows float32, is still exact
    run_tool(KNN, '--load-features', feats, '--ks', 1, 5, '--temperature', 0.001, '--out', out)
    assert json.loads(out.read_text())['top1'] == {'1': 100.0, '5': 100.0}

    separable_features(feats, wrong_query_labels=6)  # half the query labels are wrong
    run_tool(KNN, '--load-features', feats, '--ks', 10, '--out', out)
    assert json.loads(out.read_text())['top1']['10'] == pytest.approx(50.0)


def test_cluster_known_results_from_loaded_features(tmp_path):
    pytest.importorskip('sklearn')
    feats, out = tmp_path / 'feats.pth', tmp_path / 'cluster.json'
    separable_features(feats)
    stdout = run_tool(CLUSTER, '--load-features', feats, '--out', out)
    assert 'NMI' in stdout
    scores = json.loads(out.read_text())
    assert scores['num_clusters'] == 3
    for name in ('nmi', 'ami', 'ari', 'acc'):
        assert scores[name] == pytest.approx(1.0)

    separable_features(feats, wrong_query_labels=6)
    run_tool(CLUSTER, '--load-features', feats, '--out', out)
    assert json.loads(out.read_text())['acc'] == pytest.approx(0.5)


def test_end_to_end_student_and_teacher(tmp_path):
    config = tmp_path / 'eval_cfg.py'
    config.write_text(EVAL_CONFIG)
    ckpt = tmp_path / 'cgh.pth'
    save_tiny_cgh_checkpoint(ckpt)

    feats = {}
    for weights in ('student', 'teacher'):
        path, out = tmp_path / f'{weights}.pth', tmp_path / f'{weights}.json'
        stdout = run_tool(KNN, config, ckpt, '--weights', weights, '--ks', 5, 20,
                          '--save-features', path, '--out', out)
        assert ' 5 |' in stdout
        feats[weights] = load_feature_sets(str(path))
        sets = feats[weights]
        assert sets['train_features'].shape == (24, 512)
        assert sets['test_features'].shape == (12, 512)
        assert sets['num_classes'] == 3
        assert torch.allclose(sets['train_features'].norm(dim=1), torch.ones(24), atol=1e-5)
        # the printed numbers are those of the saved features
        expected = weighted_knn_accuracy(sets['train_features'], sets['train_labels'],
                                         sets['test_features'], sets['test_labels'], 3,
                                         ks=(5, 20))
        top1 = json.loads(out.read_text())['top1']
        assert top1 == {str(k): pytest.approx(v) for k, v in expected.items()}
        # reloading the features gives the same numbers without the model
        run_tool(KNN, '--load-features', path, '--ks', 5, 20, '--out', out)
        assert json.loads(out.read_text())['top1'] == top1

    assert torch.equal(feats['student']['train_labels'], feats['teacher']['train_labels'])
    assert not torch.allclose(feats['student']['train_features'],
                              feats['teacher']['train_features'])


def test_cluster_end_to_end(tmp_path):
    pytest.importorskip('sklearn')
    config = tmp_path / 'eval_cfg.py'
    config.write_text(EVAL_CONFIG)
    ckpt = tmp_path / 'cgh.pth'
    save_tiny_cgh_checkpoint(ckpt)
    out, feats = tmp_path / 'cluster.json', tmp_path / 'feats.pth'
    run_tool(CLUSTER, config, ckpt, '--weights', 'teacher', '--save-features', feats,
             '--out', out)
    scores = json.loads(out.read_text())
    assert scores['weights'] == 'teacher' and scores['num_clusters'] == 3
    assert 0.0 <= scores['acc'] <= 1.0
    run_tool(CLUSTER, '--load-features', feats, '--out', out)
    assert json.loads(out.read_text())['acc'] == pytest.approx(scores['acc'])


def test_wrong_backbone_names_missing_and_unexpected_keys(tmp_path):
    config = tmp_path / 'eval_cfg.py'
    config.write_text(EVAL_CONFIG)
    separable_features(tmp_path / 'feats.pth')  # a .pth file that is no checkpoint
    ckpt = tmp_path / 'cgh.pth'
    save_tiny_cgh_checkpoint(ckpt)
    with raises_stating(ValueError, str(ckpt), 'student backbone', '96 missing keys',
                        'layer1.2.bn1.bias'):
        run_tool(KNN, config, ckpt, '--cfg-options', 'model.backbone.depth=34')
    with raises_stating(ValueError, "'teacher.module.backbone.'"):
        run_tool(KNN, config, tmp_path / 'feats.pth', '--weights', 'teacher')


def test_features_and_knn_say_on_which_device_they_ran(tmp_path):
    config = tmp_path / 'eval_cfg.py'
    config.write_text(EVAL_CONFIG)
    ckpt = tmp_path / 'cgh.pth'
    save_tiny_cgh_checkpoint(ckpt)
    out = tmp_path / 'knn.json'
    default = 'cuda' if torch.cuda.is_available() else 'cpu'
    stdout = run_tool(KNN, config, ckpt, '--ks', 5, '--out', out)
    # both sets, each with its loader settings (the config's: batch 8, no workers)
    assert re.search(rf'features of 24 fit images on {default}\S* \(.*\): batches of 8, '
                     r'0 loader workers', stdout), stdout
    assert re.search(rf'features of 12 query images on {default}', stdout)
    assert re.search(rf'weighted kNN on {default}', stdout)
    assert json.loads(out.read_text())['device'].startswith(default)
    stdout = run_tool(CLUSTER, config, ckpt, '--device', 'cpu', '--batch-size', 6)
    assert re.search(r'features of 24 fit images on cpu \(\d+ threads\): batches of 6', stdout)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without CUDA')
def test_cuda_device_without_cuda_is_refused_before_reading_anything(tmp_path):
    for tool in (KNN, CLUSTER):
        # the features file does not exist: the device is refused first
        with raises_stating(SystemExit, '--device cuda', 'torch.cuda.is_available()',
                            '--device cpu'):
            run_tool(tool, '--load-features', tmp_path / 'missing.pth', '--device', 'cuda')


@pytest.mark.slow
def test_loader_workers_give_the_same_features_in_the_same_order(tmp_path):
    config = tmp_path / 'eval_cfg.py'
    # the config's own num_workers is the default
    config.write_text(EVAL_CONFIG.replace('batch_size=8,', 'batch_size=8, num_workers=2,'))
    ckpt = tmp_path / 'cgh.pth'
    save_tiny_cgh_checkpoint(ckpt)
    feats = {}
    for workers in ('config', '0'):
        path = tmp_path / f'{workers}.pth'
        args = [] if workers == 'config' else ['--num-workers', workers]
        stdout = run_tool(KNN, config, ckpt, '--device', 'cpu', '--save-features', path, *args)
        expected = 2 if workers == 'config' else 0
        assert 'batches of 8' in stdout and f'{expected} loader workers' in stdout
        feats[workers] = load_feature_sets(str(path))
    for key in ('train_features', 'train_labels', 'test_features', 'test_labels'):
        assert torch.equal(feats['config'][key], feats['0'][key]), key
