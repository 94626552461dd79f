"""Training steps of the ImageNet recipe's model on fake CUDA tensors: after the first
step, no op makes the host wait for the GPU.

torch's ``FakeTensorMode`` with ``device='cuda'`` runs each op of a step for its
metadata only (device, shape, dtype, layout), on this CPU-only machine, and
``HostSyncs`` records every op that would make the host wait for the device. The
model is the recipe's (``configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py``): its
``ViewAugmentDataPreprocessor`` on uint8 views, ``channels_last``, its head and its
optimizer under mmengine's ``AmpOptimWrapper`` (what ``tools/train.py --amp`` selects),
with a ResNet-18, 32-pixel views and a queue of 64 instead of the ResNet-50, 224 pixels
and 131072 slots.

Not traced: the backward (torch's autograd engine needs a real CUDA device for CUDA
tensors, fake ones too), whose gradients are here fake tensors of each parameter's
device, dtype and layout; and the fused SGD kernel, which has no fake implementation:
a stand-in checks what it is given (the gradient scaler's scale and inf flag as device
tensors, which the real kernel reads on the device).
"""
import contextlib
import copy
import os.path as osp
from unittest import mock

import pytest
import torch
import torch.distributed._functional_collectives as funcol
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models.utils import batch_shuffle as mmpretrain_batch_shuffle
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch._subclasses.fake_tensor import FakeTensorMode, unset_fake_temporarily

from cgh_mm.models.algorithms import cgh as cgh_module
from tests.helpers import HostSyncs, tiny_cgh_cfg

RECIPE_CONFIG = osp.join(osp.dirname(__file__), '..', '..', '..', 'configs', 'cgh',
                         'cgh_resnet50_8xb32-coslr-200e_in1k.py')
BATCH, SIZE, STEPS = 4, 32, 3


def recipe_model_and_optim_cfg():
    """The recipe's model (ResNet-18 scale) and its optimizer under ``AmpOptimWrapper``."""
    cfg = Config.fromfile(RECIPE_CONFIG)
    model_cfg, tiny = copy.deepcopy(cfg.model), tiny_cgh_cfg()
    for key in ('backbone', 'neck', 'hypercolumn_neck'):
        model_cfg[key] = tiny[key]
    model_cfg.update(queue_len=64, feat_dim=tiny['feat_dim'])
    assert model_cfg.channels_last and model_cfg.data_preprocessor.type == \
        'ViewAugmentDataPreprocessor'
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    optim_cfg.update(type='AmpOptimWrapper', loss_scale='dynamic')  # as train.py --amp
    return model_cfg, optim_cfg


def on_the_host(fn):
    """``fn`` outside the fake mode: the preprocessor's draws are real host data."""
    def run(*args, **kwargs):
        with unset_fake_temporarily():
            return fn(*args, **kwargs)
    return run


@pytest.mark.parametrize('ranks', [1, 2])
def test_recipe_training_steps_make_no_host_sync_after_the_first(ranks):
    """``ranks=2`` simulates a second process holding the same batch (collectives
    replaced by their single-process result) so that shuffle-BN runs: its permutation
    must stay on the device."""
    model_cfg, optim_cfg = recipe_model_and_optim_cfg()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(model_cfg)
    model.init_weights()
    model.head.alpha = 0.5  # in the warm-up: InfoNCE too
    MMLogger.get_current_instance()  # made now: it counts devices when it is first made
    pinned, fused_sgd_calls = [], []

    def pin_memory(tensor):  # fake tensors cannot be pinned: recorded instead
        pinned.append(tuple(tensor.shape))
        return tensor

    def fused_sgd(params, grads, momentum_buffers, **kwargs):
        fused_sgd_calls.append({k: v.device.type for k, v in kwargs.items()
                                if isinstance(v, torch.Tensor)})

    def backward(loss, *args, **kwargs):
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.zeros_like(p) if p.grad is None else p.grad + 0

    world = [] if ranks == 1 else [
        mock.patch.object(cgh_module, 'get_world_size', return_value=2),
        mock.patch.object(cgh_module, 'get_rank', return_value=1, create=True),
        mock.patch.object(cgh_module, 'all_gather', lambda t: [t, t]),
        mock.patch.object(funcol, 'broadcast', lambda t, src, group: t),
        # the unshuffle: mmpretrain's batch_unshuffle_ddp
        mock.patch.object(mmpretrain_batch_shuffle, 'get_rank', return_value=1),
        mock.patch.object(mmpretrain_batch_shuffle, 'all_gather', lambda t: [t, t])]
    amp_on_this_machine = [  # what mmengine and torch check before using CUDA AMP
        mock.patch('torch.cuda.amp.common.amp_definitely_not_available', return_value=False),
        mock.patch('mmengine.optim.optimizer.amp_optimizer_wrapper.is_cuda_available',
                   return_value=True),
        mock.patch('mmengine.runner.amp.get_device', return_value='cuda')]
    with contextlib.ExitStack() as patches, FakeTensorMode(allow_non_fake_inputs=True):
        for patch in world + amp_on_this_machine:
            patches.enter_context(patch)
        model.to('cuda')
        # fake tensors replace the parameters rather than taking their place: the EMA's
        # references follow (a real .to() keeps the parameter objects)
        model.teacher.avg_parameters = dict(model.teacher.module.named_parameters())
        for augment in model.data_preprocessor.view_pipelines[1]:
            for name in ('sample', 'encode'):
                if hasattr(augment, name):
                    setattr(augment, name, on_the_host(getattr(augment, name)))
        with DefaultScope.overwrite_default_scope('mmpretrain'):
            optim_wrapper = build_optim_wrapper(model, optim_cfg)
        with HostSyncs() as syncs, mock.patch('torch.cuda.is_available', return_value=True), \
                mock.patch.object(torch.Tensor, 'pin_memory', pin_memory), \
                mock.patch.object(torch.Tensor, 'backward', backward), \
                mock.patch('torch._fused_sgd_', fused_sgd):
            for step in range(STEPS):
                syncs.armed = step > 0
                batch = dict(inputs=[torch.randint(0, 256, (BATCH, 3, SIZE, SIZE),
                                                   dtype=torch.uint8) for _ in range(2)],
                             data_samples=[DataSample() for _ in range(BATCH)])
                log_vars = model.train_step(batch, optim_wrapper)
        assert log_vars['loss_nce'].is_cuda and model.global_queue.is_cuda
    assert not syncs.found, '\n' + syncs.report()
    # per step: the two views (pinned by the loader), then all the preprocessor's
    # parameters in one copy, pinned here
    copies = syncs.host_to_device
    assert len(copies) == 3 * (STEPS - 1), copies
    assert copies[0::3] == copies[1::3] == [(BATCH, 3, SIZE, SIZE)] * (STEPS - 1), copies
    assert all(len(shape) == 1 for shape in copies[2::3]) and len(pinned) == STEPS, pinned
    # one call per parameter group with gradients and step, each given the scaler's tensors
    assert len(fused_sgd_calls) >= STEPS
    assert all(call == dict(grad_scale='cuda', found_inf='cuda') for call in fused_sgd_calls)
