"""Every pretraining config under configs/ loads, builds its model and runs its pipelines."""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS, TRANSFORMS

from .paper_recipe import SPEC

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/fashion_mnist/cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'
MOCO_DEMO = 'configs/fashion_mnist/mocov2_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py'
# Pretraining configs; configs/benchmarks (downstream tasks) and the demo's peer and
# variants (configs/fashion_mnist) have their own tests.
CONFIGS = sorted({DEMO} | {
    osp.relpath(p, ROOT) for p in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                                            recursive=True)
    if '_base_' not in p and not osp.relpath(p, ROOT).startswith(
        ('configs/benchmarks', 'configs/fashion_mnist'))})

# Expected side of each view the train pipeline produces, per config: the paper's on
# ImageNet, the images' own size on the small datasets.
IN1K = [SPEC['view_size']] * 2
VIEW_SIZES = {
    'configs/cgh_r50_8xb256.py': IN1K,
    'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py': IN1K,
    'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_knn.py': IN1K,
    'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py': IN1K,
    'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_multicrop.py':
        IN1K + [size for size, _ in SPEC['local_crops']],
    'configs/cgh/cgh_resnet18_1xb256-coslr-200e_cifar10.py': [32, 32],
    'configs/cgh/cgh_resnet18_1xb256-coslr-200e_cifar100.py': [32, 32],
    'configs/cgh/cgh_resnet18_1xb256-coslr-200e_stl10.py': [96, 96],
    'configs/cgh/cgh_resnet18_1xb256-coslr-200e_tiny-imagenet.py': [64, 64],
    'configs/cgh/cgh_resnet18_4xb64-coslr-200e_in100.py': IN1K,
    DEMO: [32, 32],
    'configs/cgh/cgh_resnet18_1xb16-2e_synthetic.py': [64, 64],
    'configs/cgh/cgh_resnet50_1xb64-coslr-200e_custom.py': IN1K,
}
# Training images of each config's dataset (the published split sizes).
DATASET_SIZES = {
    'cifar10': 50000, 'cifar100': 50000, 'stl10': 105000, 'tiny-imagenet': 100000,
    'in100': 126689, 'in1k': 1281167, 'cgh_r50_8xb256': 1281167, 'fashion-mnist': 15000,
    'synthetic': 64,
    'custom': 16384,  # the smallest dataset docs/own_data.md allows without changes
}
# The paper's recipe on ImageNet, and scaled to one GPU for one's own images (its queue
# sized for smaller datasets).
IN1K_RECIPES = sorted(name for name in VIEW_SIZES if re.search(r'in1k|cgh_r50_8xb256', name))
PAPER_RECIPES = IN1K_RECIPES + ['configs/cgh/cgh_resnet50_1xb64-coslr-200e_custom.py']
# Configs that must run the online kNN monitor.
KNN_ON = {name for name in VIEW_SIZES
          if re.search(r'cifar|stl10|tiny|in100|fashion|_knn', name)}

_models = {}


@pytest.fixture(autouse=True, scope='module')
def _mmpretrain_scope():
    # As the Runner does: nested transforms (MultiView) are looked up in this scope.
    init_default_scope('mmpretrain')


def _load(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, name))


def _pipeline(cfg: Config, key: str = 'train_dataloader') -> Compose:
    dataset = cfg[key]['dataset']
    if dataset['type'] == 'ConcatDataset':
        dataset = dataset['datasets'][0]
    # No file on disk: the generated image stands in for LoadImageFromFile.
    return Compose([TRANSFORMS.build(t) for t in dataset['pipeline']
                    if not t['type'].startswith('LoadImageFromFile')])


def _generated_image(seed: int = 0) -> dict:
    img = np.random.default_rng(seed).integers(0, 256, size=(150, 130, 3), dtype=np.uint8)
    return dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2])


def _gpus_and_batch(name: str):
    match = re.search(r'(\d+)xb(\d+)', osp.basename(name))
    return int(match.group(1)), int(match.group(2))


def _model(cfg: Config) -> torch.nn.Module:
    """Build once per distinct model config; a short queue saves memory."""
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg['queue_len'] = 64
    key = repr(model_cfg)
    if key not in _models:
        _models[key] = MODELS.build(model_cfg)
    return _models[key]


def test_every_config_has_expectations():
    assert CONFIGS, 'no config found'
    assert set(CONFIGS) == set(VIEW_SIZES), (
        'add new configs to VIEW_SIZES (and remove deleted ones): '
        f'{sorted(set(CONFIGS) ^ set(VIEW_SIZES))}')


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_and_runs_its_pipeline(name):
    cfg = _load(name)
    assert cfg.default_scope == 'mmpretrain'
    # every registering sub-package: `import cgh_mm` alone registers nothing
    assert set(cfg.custom_imports['imports']) >= {
        'cgh_mm.datasets', 'cgh_mm.engine', 'cgh_mm.evaluation', 'cgh_mm.models'}
    assert cfg.train_dataloader['drop_last'] is True

    gpus, batch = _gpus_and_batch(name)
    assert cfg.train_dataloader['batch_size'] == batch
    assert cfg.model['queue_len'] % (gpus * batch) == 0  # what CGH checks at every step

    out = _pipeline(cfg)(_generated_image())
    views = out['inputs']
    expected = VIEW_SIZES[name]
    assert len(views) == len(expected) == 2 + cfg.model.get('num_local_crops', 0)
    assert [tuple(v.shape) for v in views] == [(3, s, s) for s in expected]
    preprocessor = cfg.model['data_preprocessor']
    if preprocessor.get('type') == 'ViewAugmentDataPreprocessor':
        # one colour pipeline per view, or a view would silently go unaugmented
        assert len(preprocessor['view_pipelines']) == len(views)

    model = _model(cfg).eval()
    images = [torch.randn(2, 3, s, s) for s in expected]
    with torch.no_grad():
        emb_global, emb_hyper = model.embed(images[1])
        local = [model.embed(crop)[0] for crop in images[2:]]
    assert emb_global.shape == emb_hyper.shape == (2, cfg.model['feat_dim'])
    assert [tuple(e.shape) for e in local] == [(2, cfg.model['feat_dim'])] * (len(images) - 2)


@pytest.mark.parametrize('name', CONFIGS)
def test_warmup_outlasts_a_queue_refill(name):
    """What CGHHealthHook checks before training, for every packaged config."""
    cfg = _load(name)
    assert cfg.train_cfg['type'] == 'ResumableEpochBasedTrainLoop'
    hooks = {h['type']: h for h in cfg.custom_hooks}
    assert 'CGHHealthHook' in hooks
    warmup = hooks['WarmupParamHook']
    assert (warmup['param_name'], warmup['module_name']) == ('alpha', 'head')
    gpus, batch = _gpus_and_batch(name)
    size = next(v for k, v in DATASET_SIZES.items() if k in name)
    iters_per_epoch = size // (gpus * batch)
    refill = cfg.model['queue_len'] // (gpus * batch)
    assert warmup['warmup_epochs'] * iters_per_epoch >= refill
    assert cfg.model['queue_len'] <= size


@pytest.mark.parametrize('name', sorted(KNN_ON))
def test_knn_monitor_is_on(name):
    cfg = _load(name)
    assert cfg.val_cfg['type'] == 'KNNValLoop'
    evaluator = cfg.val_evaluator
    assert evaluator['type'] == 'WeightedKNNAccuracy' and evaluator['k'] in SPEC['knn_k']
    assert evaluator['temperature'] == SPEC['knn_temperature']
    assert cfg.train_cfg.get('val_interval', 1) >= 1
    for key in ('val_dataloader', ):
        assert cfg[key]['sampler']['shuffle'] is False
    assert cfg.val_cfg['memory_dataloader']['sampler']['shuffle'] is False
    out = _pipeline(cfg, 'val_dataloader')(_generated_image())
    assert out['inputs'].shape[0] == 3


def test_imagenet_knn_is_off_by_default():
    for name in ('configs/cgh_r50_8xb256.py',
                 'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py'):
        assert _load(name).get('val_cfg') is None


def test_imagenet_recipes_split_the_augmentations_between_cpu_and_device():
    cpu_only = {'ContiguousRandomResizedCrop', 'RandomFlip', 'LoadImageFromFileChecked',
                'PackInputs'}
    for name in ('configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py',
                 'configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_multicrop.py'):
        cfg = _load(name)
        pipeline = cfg.train_dataloader.dataset.pipeline
        views = next(t['transforms'] for t in pipeline if t['type'] == 'MultiView')
        assert {t['type'] for view in views for t in view} <= cpu_only, name
        preprocessor = cfg.model['data_preprocessor']
        assert preprocessor['type'] == 'ViewAugmentDataPreprocessor'
        pipelines = preprocessor['view_pipelines']
        # the weak (teacher) view is not colour-augmented, every student view is
        assert pipelines[0] == [] and all(p == pipelines[1] for p in pipelines[1:])
        assert [t['type'] for t in pipelines[1]] == ['ColorJitter', 'RandomGrayscale',
                                                      'GaussianBlur']
    reference = _load('configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py')
    assert reference.model['data_preprocessor']['view_pipelines'] == [[], []]
    assert (reference.train_dataloader.dataset.pipeline
            == _load('configs/_base_/datasets/imagenet_cgh.py').train_pipeline)


def _views(cfg: Config) -> list:
    """Per view of the train pipeline, its augmentations by type, wherever the config runs
    them: in the loader or in the data preprocessor (``view_pipelines``); the probability
    of a ``RandomApply`` given to what it wraps."""
    pipeline = cfg.train_dataloader.dataset.pipeline
    views = next(t['transforms'] for t in pipeline if t['type'] == 'MultiView')
    on_device = cfg.model['data_preprocessor'].get('view_pipelines') or [[] for _ in views]
    found = []
    for view, colour in zip(views, on_device):
        ops = {}
        for t in list(view) + list(colour):
            if t['type'] == 'RandomApply':
                (inner, ) = t['transforms']
                t = dict(inner, prob=t['prob'])
            ops[t['type'].replace('ContiguousRandomResizedCrop', 'RandomResizedCrop')] = t
        found.append(ops)
    return found


def _colour(ops: dict) -> tuple:
    jitter, blur = ops['ColorJitter'], ops['GaussianBlur']
    return ((jitter['brightness'], jitter['contrast'], jitter['saturation'], jitter['hue']),
            jitter['prob'], ops['RandomGrayscale']['prob'],
            tuple(blur.get('sigma_range') or blur['magnitude_range']), blur['prob'])


@pytest.mark.parametrize('name', PAPER_RECIPES)
def test_recipe_is_the_papers(name):
    """The values of paper_recipe.SPEC; the lr scaled linearly to the config's batch."""
    cfg = _load(name)
    model, head = cfg.model, cfg.model['head']
    assert {k: model['backbone'][k] for k in SPEC['backbone']} == SPEC['backbone']
    assert model['feat_dim'] == SPEC['feat_dim']
    assert model['teacher_momentum'] == SPEC['teacher_momentum']
    assert {k: head[k] for k in SPEC['temperatures']} == SPEC['temperatures']
    assert {k: head[k] for k in SPEC['loss_weights']} == SPEC['loss_weights']
    neck, hyper = model['neck'], model['hypercolumn_neck']
    assert (neck['in_channels'], neck['hid_channels'], neck['out_channels']) == \
        SPEC['global_neck']
    assert (tuple(hyper['in_channels']), hyper['conv_channels'], hyper['hid_channels'],
            hyper['out_channels']) == SPEC['hypercolumn_neck']
    if name in IN1K_RECIPES:  # the own-data recipe sizes its queue by the dataset
        assert model['queue_len'] == SPEC['queue_len']
        assert model['shuffle_teacher_bn'] is SPEC['shuffle_teacher_bn']

    optimizer = cfg.optim_wrapper['optimizer']
    assert (optimizer['type'], optimizer['momentum'], optimizer['weight_decay']) == (
        'SGD', SPEC['momentum'], SPEC['weight_decay'])
    assert cfg.optim_wrapper['paramwise_cfg'] == dict(norm_decay_mult=0.0, bias_decay_mult=0.0)
    # linear scaling: the Runner scales lr by total batch / base_batch_size when enabled;
    # tools/train.py --auto-scale-lr enables it for the configs that hold their own lr
    gpus, batch = _gpus_and_batch(name)
    assert cfg.auto_scale_lr['base_batch_size'] == 256
    scale = gpus * batch / 256 if cfg.auto_scale_lr.get('enable') else 1
    assert optimizer['lr'] * scale == pytest.approx(SPEC['lr_per_256'] * gpus * batch / 256)

    warmup_epochs, epochs = SPEC['warmup_epochs'], SPEC['epochs']
    assert cfg.train_cfg['max_epochs'] == epochs
    warmup, cosine = cfg.param_scheduler
    assert (warmup['type'], cosine['type']) == ('LinearLR', 'CosineAnnealingLR')
    assert warmup['end'] == cosine['begin'] == warmup_epochs
    assert cosine['end'] == epochs and cosine['T_max'] == epochs - warmup_epochs
    assert cosine['eta_min'] == 0
    assert all(s['by_epoch'] and s['convert_to_iter_based'] for s in cfg.param_scheduler)
    (alpha, ) = [h for h in cfg.custom_hooks if h['type'] == 'WarmupParamHook']
    assert alpha['warmup_epochs'] == warmup_epochs  # the loss's warm-up: as long as lr's

    weak, strong, *local = _views(cfg)
    for ops in (weak, strong):
        crop = ops['RandomResizedCrop']
        assert (crop['scale'], tuple(crop['crop_ratio_range'])) == (SPEC['view_size'],
                                                                    SPEC['crop_scale'])
    assert set(weak) == {'RandomResizedCrop', 'RandomFlip'}  # the teacher's view: no colour
    assert _colour(strong) == (SPEC['jitter'], SPEC['jitter_prob'], SPEC['grayscale_prob'],
                               SPEC['blur_sigma'], SPEC['blur_prob'])
    assert len(local) == model.get('num_local_crops', 0)
    if local:
        assert [(ops['RandomResizedCrop']['scale'],
                 tuple(ops['RandomResizedCrop']['crop_ratio_range'])) for ops in local] == \
            list(SPEC['local_crops'])
        assert all(_colour(ops) == _colour(strong) for ops in local)


def test_syncbn_switch_builds():
    cfg = _load('configs/cgh_r50_8xb256.py')
    cfg.merge_from_dict({'model.backbone.norm_cfg.type': 'SyncBN',
                         'model.hypercolumn_neck.norm_cfg.type': 'SyncBN',
                         'model.shuffle_teacher_bn': False})
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(queue_len=64, backbone=dict(model_cfg['backbone'], depth=18),
                     neck=dict(model_cfg['neck'], in_channels=512, hid_channels=32),
                     hypercolumn_neck=dict(model_cfg['hypercolumn_neck'],
                                           in_channels=(256, 512), conv_channels=32,
                                           hid_channels=32))
    model = MODELS.build(model_cfg)
    sync = [m for m in model.modules() if isinstance(m, torch.nn.SyncBatchNorm)]
    assert sync and not model.shuffle_teacher_bn


def test_moco_demo_peer_differs_from_the_cgh_demo_only_in_the_algorithm():
    cgh, moco = _load(DEMO), _load(MOCO_DEMO)
    assert moco.model['type'] == 'MoCo' and moco.custom_hooks == []
    assert dict(moco.model['backbone'], out_indices=(2, 3)) == cgh.model['backbone']
    assert moco.model['data_preprocessor'] == cgh.model['data_preprocessor']
    assert moco.model['queue_len'] == cgh.model['queue_len']
    assert moco.model['momentum'] == pytest.approx(1 - cgh.model['teacher_momentum'])
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg', 'val_cfg', 'val_dataloader',
                'randomness'):
        assert moco[key] == cgh[key], key
    # the same views, the student's (strong) first as MoCo's query
    views = [[t['transforms'] for t in c.train_dataloader.dataset.pipeline
              if t['type'] == 'MultiView'][0] for c in (moco, cgh)]
    assert views[0] == views[1][::-1]
    model = MODELS.build(dict(moco.model, queue_len=64))
    assert torch.isfinite(model.loss([torch.randn(2, 3, 32, 32)] * 2, None)['loss'])
