"""StrictPretrained on mmpretrain's, mmdet's and mmseg's ResNets."""
import pytest
import torch
from mmdet.registry import MODELS as DET_MODELS
from mmpretrain.registry import MODELS
from mmseg.registry import MODELS as SEG_MODELS

import cgh_mm.runtime  # noqa: F401  (registers StrictPretrained)
from tests.helpers import raises_stating, randomize_norms_


@pytest.fixture(scope='module')
def cgh_file(tmp_path_factory):
    """A CGH-style checkpoint (student under 'backbone.') of a ResNet-18 whose BN
    weights are not the default ones, and the backbone weights."""
    source = MODELS.build(dict(type='ResNet', depth=18))
    randomize_norms_(source, torch.Generator().manual_seed(0))
    path = tmp_path_factory.mktemp('ckpt') / 'cgh.pth'
    torch.save(dict(state_dict={f'backbone.{k}': v for k, v in source.state_dict().items()}),
               path)
    return str(path), source.state_dict()


def init_cfg(path, **kwargs):
    return dict(type='StrictPretrained', checkpoint=path, prefix='backbone.', **kwargs)


def assert_equal_state(module, expected):
    state = module.state_dict()
    assert set(state) == set(expected)
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_mmpretrain_resnet_loads_bit_exactly_and_zero_init_is_refused(cgh_file):
    path, expected = cgh_file
    fitting = MODELS.build(dict(type='ResNet', depth=18, zero_init_residual=False,
                                init_cfg=init_cfg(path)))
    fitting.init_weights()
    assert_equal_state(fitting, expected)
    # mmpretrain's ResNet zero-inits after any init_cfg but 'Pretrained': refused
    zeroing = MODELS.build(dict(type='ResNet', depth=18, init_cfg=init_cfg(path)))
    with raises_stating(ValueError, 'zero_init_residual=False'):
        zeroing.init_weights()


@pytest.mark.parametrize('registry', [DET_MODELS, SEG_MODELS], ids=['mmdet', 'mmseg'])
def test_mmdet_and_mmseg_resnets_keep_zero_init_residual_and_load(cgh_file, registry):
    """Their ResNets zero-init only without an init_cfg: the default is accepted."""
    path, expected = cgh_file
    # scoped: a registry builds from the default scope, which earlier tests may have set
    backbone = registry.build(dict(type=f'{registry.scope}.ResNet', depth=18,
                                   init_cfg=init_cfg(path)))
    assert type(backbone).__module__.startswith(registry.scope)
    assert backbone.zero_init_residual
    backbone.init_weights()
    assert_equal_state(backbone, expected)


def test_another_architecture_is_refused_with_the_keys(cgh_file):
    path, r18 = cgh_file
    other = MODELS.build(dict(type='ResNet', depth=50, zero_init_residual=False,
                              init_cfg=init_cfg(path)))
    r50 = other.state_dict()
    missing = len(set(r50) - set(r18))
    reshaped = sum(r50[k].shape != r18[k].shape for k in set(r50) & set(r18))
    # the file, its prefix, the model, how many keys misfit and how, the settings to fix
    with raises_stating(ValueError, path, "prefix='backbone.'", 'ResNet', f'{missing} missing keys',
                        f'{reshaped} keys with another shape', '`prefix`', 'ignore_missing'):
        other.init_weights()
    no_prefix = MODELS.build(dict(type='ResNet', depth=18, zero_init_residual=False,
                                  init_cfg=dict(type='StrictPretrained', checkpoint=path,
                                                prefix='student')))
    with raises_stating(ValueError, "'student.'", "['backbone']"):
        no_prefix.init_weights()


def test_missing_checkpoint_names_the_setting(tmp_path):
    backbone = SEG_MODELS.build(dict(type='mmseg.ResNet', depth=18, init_cfg=dict(
        type='StrictPretrained', checkpoint=str(tmp_path / 'none.pth'))))
    with raises_stating(FileNotFoundError, str(tmp_path / 'none.pth'),
                        '--cfg-options model.backbone.init_cfg.checkpoint=PATH'):
        backbone.init_weights()
