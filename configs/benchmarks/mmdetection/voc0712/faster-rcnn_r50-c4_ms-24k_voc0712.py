# Faster R-CNN R50-C4 on VOC07+12 trainval, multi-scale training, 24k iterations,
# batch 16 (8 GPUs x 2), tested on VOC07 test: the MoCo detection protocol.
# mmdet base: mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py
_base_ = [
    'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py',
    '../_base_/cgh_r50-c4_finetune.py',
]

model = dict(
    data_preprocessor={{_base_.cgh_data_preprocessor}},
    backbone={{_base_.cgh_c4_backbone}},
    roi_head=dict(shared_head={{_base_.cgh_c4_shared_head}}, bbox_head=dict(num_classes=20)))

max_iters = 24000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=2000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2000, max_keep_ckpts=1))
