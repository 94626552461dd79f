# Linear probe of a CGH ResNet-50 on ImageNet with mmpretrain's LARS schedule
# (lr 1.6, momentum 0.9, no weight decay, cosine over 90 epochs), total batch 4096.
_base_ = ['./resnet50_linear-8xb32-coslr-100e_in1k.py']

train_dataloader = dict(batch_size=512)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(_delete_=True, type='LARS', lr=1.6, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=90, by_epoch=True, begin=0, end=90)
]
train_cfg = dict(max_epochs=90)
auto_scale_lr = dict(base_batch_size=4096)
