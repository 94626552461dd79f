"""Classification benchmark configs: build each model, check what trains, and run
2 real iterations of the CIFAR-10 linear probe from a CGH checkpoint."""
import glob
import os.path as osp
import re

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmpretrain.registry import MODELS

from tests.helpers import raises_stating, save_tiny_cgh_checkpoint

from .paper_recipe import SPEC

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', '..', 'configs', 'benchmarks',
                      'classification')
# benchmarks proper: the synthetic/ folder only holds feature-evaluation demos
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, 'imagenet', '*.py')) +
                 glob.glob(osp.join(CONFIG_DIR, 'cifar10', '*.py')))
CIFAR_LINEAR = osp.join(CONFIG_DIR, 'cifar10', 'resnet18_linear-1xb256-coslr-100e_cifar10.py')


def test_every_benchmark_is_found():
    names = {osp.basename(p) for p in CONFIGS}
    assert {'resnet50_linear-8xb32-coslr-100e_in1k.py',
            'resnet50_linear-8xb512-lars-coslr-90e_in1k.py',
            'resnet50_semi-1pct-8xb32-steplr-70e_in1k.py',
            'resnet50_semi-10pct-8xb32-steplr-70e_in1k.py',
            osp.basename(CIFAR_LINEAR)} <= names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_with_cgh_backbone_init(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    init_cfg = cfg.model.backbone.init_cfg
    assert init_cfg.type == 'StrictPretrained' and init_cfg.prefix == 'backbone.'
    assert init_cfg.checkpoint.startswith('work_dirs/')
    assert cfg.model.backbone.zero_init_residual is False  # else loaded BN weights are zeroed
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    model.train()
    backbone_params = list(model.backbone.parameters())
    norms = [m for m in model.backbone.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(p.requires_grad for p in model.head.parameters())
    optimizer = cfg.optim_wrapper.optimizer
    if '_linear-' in path:
        assert not any(p.requires_grad for p in backbone_params)
        assert not any(m.training for m in norms)  # norm_eval: statistics frozen too
        assert optimizer.weight_decay == 0
    else:
        assert all(p.requires_grad for p in backbone_params)
        assert all(m.training for m in norms)
        expected_ann = 'meta/train_1percent.txt' if '1pct' in path else 'meta/train_10percent.txt'
        assert cfg.train_dataloader.dataset.ann_file == expected_ann


@pytest.mark.parametrize('path', [p for p in CONFIGS if '_linear-' in p and 'coslr-100e' in p]
                         + [p for p in CONFIGS if '_semi-' in p], ids=osp.basename)
def test_protocol_is_the_references(path):
    """The linear probe and the semi-supervised fine-tuning of paper_recipe.SPEC; the
    LARS probe is mmpretrain's protocol, not the reference's."""
    cfg = Config.fromfile(path)
    optimizer = cfg.optim_wrapper.optimizer
    gpus, batch = map(int, re.search(r'(\d+)xb(\d+)', osp.basename(path)).groups())
    if '_linear-' in path:
        probe = SPEC['linear_probe']
        assert (optimizer.type, optimizer.lr, optimizer.momentum, optimizer.weight_decay) == (
            'SGD', probe['lr'], probe['momentum'], probe['weight_decay'])
        assert gpus * batch == probe['batch'] == cfg.auto_scale_lr.base_batch_size
        (cosine, ) = cfg.param_scheduler
        assert cosine.type == 'CosineAnnealingLR'
        assert cfg.train_cfg.max_epochs == cosine.end == cosine.T_max == probe['epochs']
    else:
        semi = SPEC['semi_supervised']
        assert optimizer.lr == semi['trunk_lr']
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys['head'].lr_mult * optimizer.lr == \
            pytest.approx(semi['head_lr'])
        assert [s.milestones for s in cfg.param_scheduler] == [semi['milestones']]
        assert cfg.train_cfg.max_epochs == semi['epochs']


@pytest.fixture(scope='module')
def cgh_checkpoints(tmp_path_factory):
    """CGH checkpoints ``{name: (path, student backbone weights)}``: ImageNet-stem ResNet-50
    and ResNet-18, CIFAR-stem ResNet-18."""
    tmp = tmp_path_factory.mktemp('cgh')
    found = {}
    for name, depth, backbone_type in (('r50', 50, 'ResNet'), ('r18', 18, 'ResNet'),
                                       ('r18_cifar', 18, 'ResNet_CIFAR')):
        path = tmp / f'{name}.pth'
        state = save_tiny_cgh_checkpoint(path, depth, backbone_type=backbone_type)
        found[name] = str(path), {k[len('backbone.'):]: v for k, v in state.items()
                                  if k.startswith('backbone.')}
    return found


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_init_loads_the_cgh_backbone_and_refuses_another(path, cgh_checkpoints):
    fitting, others = ('r18_cifar', ('r50', 'r18')) if 'cifar' in path else ('r50', ('r18', ))
    cfg = Config.fromfile(path).model
    init_default_scope('mmpretrain')
    cfg.backbone.init_cfg.checkpoint, expected = cgh_checkpoints[fitting]
    model = MODELS.build(cfg)
    model.init_weights()
    loaded = model.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    for other in others:  # another depth, or the ImageNet stem for the CIFAR one
        other_path, weights = cgh_checkpoints[other]
        cfg.backbone.init_cfg.checkpoint = other_path
        # the file, and the first misfit with both shapes: the stem's (the CIFAR stem's
        # conv1 is 3x3, the ImageNet one 7x7) or a wider layer1
        first = min(k for k in loaded if k in weights and weights[k].shape != loaded[k].shape)
        assert first in ('conv1.weight', 'layer1.0.conv1.weight')
        with raises_stating(ValueError, other_path, first, tuple(weights[first].shape),
                            tuple(loaded[first].shape)):
            MODELS.build(cfg).init_weights()


@pytest.mark.slow
def test_cifar_linear_probe_trains_head_only_from_checkpoint(tmp_path):
    ckpt = tmp_path / 'cgh_cifar.pth'
    saved = save_tiny_cgh_checkpoint(ckpt, backbone_type='ResNet_CIFAR')
    expected = {k[len('backbone.'):]: v for k, v in saved.items() if k.startswith('backbone.')}

    cfg = Config.fromfile(CIFAR_LINEAR)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    # 8 generated 32 px images, batch 4: one epoch of 2 iterations
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.num_workers = 0
    cfg.train_dataloader.dataset = dict(
        type='SyntheticImageDataset', num_images=8, image_size=32, num_classes=10,
        pipeline=cfg.train_dataloader.dataset.pipeline)
    cfg.train_cfg.max_epochs = 1
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator', 'test_dataloader', 'test_cfg',
                'test_evaluator'):
        cfg[key] = None
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'

    runner = Runner.from_cfg(cfg)
    runner.model.init_weights()
    loaded = runner.model.backbone.state_dict()
    assert set(loaded) == set(expected)
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    head_before = runner.model.head.fc.weight.detach().clone()

    runner.train()
    assert runner.iter == 2
    after = runner.model.backbone.state_dict()
    for key, value in expected.items():
        assert torch.equal(after[key], value), key  # frozen, BN statistics included
    assert not torch.equal(runner.model.head.fc.weight, head_before)
