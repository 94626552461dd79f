# Mask R-CNN R50-C4 on COCO, 1x schedule (12 epochs), multi-scale training, batch 16
# (8 GPUs x 2): the MoCo detection protocol.
# mmdet base: mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py',
    '../_base_/cgh_r50-c4_finetune.py',
    '../_base_/coco_ms_train.py',
]

model = dict(
    data_preprocessor={{_base_.cgh_data_preprocessor}},
    backbone={{_base_.cgh_c4_backbone}},
    roi_head=dict(shared_head={{_base_.cgh_c4_shared_head}}))

train_dataloader = dict(dataset=dict(pipeline={{_base_.cgh_coco_ms_train_pipeline}}))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
# mmdet's epoch loop, except that a mid-epoch resume goes on with the next batch
# (registered in mmengine's root registry by cgh_mm.runtime).
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
