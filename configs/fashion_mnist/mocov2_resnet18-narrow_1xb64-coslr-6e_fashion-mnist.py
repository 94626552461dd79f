# The peer of the `make demo` CGH run: mmpretrain's MoCo v2 with the same narrow
# ResNet-18, data, schedule, batch, queue length, EMA momentum and kNN monitor
# (./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py). Its query (student) sees the
# strong view and its key (teacher) the weak one, as CGH's student and teacher do.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(
    _delete_=True,
    type='MoCo',
    queue_len=4096,
    feat_dim=128,
    momentum=0.01,  # mmengine convention: 1 - 0.99, the CGH demo's teacher momentum
    data_preprocessor={{_base_.model.data_preprocessor}},
    backbone=dict(type='ResNet_CIFAR', depth=18, stem_channels=16, base_channels=16,
                  strides=(2, 2, 2, 2), out_indices=(3, ), norm_cfg=dict(type='BN'),
                  zero_init_residual=False),
    neck=dict(type='MoCoV2Neck', in_channels=128, hid_channels=512, out_channels=128,
              with_avg_pool=True),
    head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'), temperature=0.2))

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImageFromFileChecked'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[{{_base_.strong_view}}, {{_base_.weak_view}}]),
    dict(type='PackInputs'),
]))
custom_hooks = []  # no CGH warm-up or health hooks
