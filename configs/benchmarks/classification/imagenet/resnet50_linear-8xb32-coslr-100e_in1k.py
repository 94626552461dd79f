# Linear probe of a CGH ResNet-50 on ImageNet, reference protocol (see the base):
# total batch 256 = 8 GPUs x 32.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    '../_base_/linear-probe_sgd-coslr-100e.py',
    '../../../_base_/default_runtime.py',
]

# Frozen backbone, BN statistics included; weights of a CGH checkpoint's student,
# given with --cfg-options model.backbone.init_cfg.checkpoint=PATH. StrictPretrained
# refuses a checkpoint that does not fit (mmengine's Pretrained would only warn);
# zero_init_residual=False, else mmpretrain's ResNet would zero loaded BN weights.
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        zero_init_residual=False,
        init_cfg=dict(
            type='StrictPretrained',
            checkpoint='work_dirs/cgh_r50_8xb256/epoch_200.pth',
            prefix='backbone.')))

train_dataloader = dict(batch_size=32)

default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
