# Mask R-CNN R50-FPN on COCO, 1x schedule (12 epochs), multi-scale training, batch 16
# (8 GPUs x 2); SyncBN in the backbone, FPN and heads (4conv1fc box head).
# mmdet base: mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py
_base_ = [
    'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
    '../_base_/cgh_r50_finetune.py',
    '../_base_/coco_ms_train.py',
]

model = dict(
    data_preprocessor={{_base_.cgh_data_preprocessor}},
    backbone={{_base_.cgh_backbone}},
    neck=dict(norm_cfg={{_base_.cgh_norm_cfg}}),
    roi_head=dict(
        bbox_head=dict(type='Shared4Conv1FCBBoxHead', norm_cfg={{_base_.cgh_norm_cfg}}),
        mask_head=dict(norm_cfg={{_base_.cgh_norm_cfg}})))

train_dataloader = dict(dataset=dict(pipeline={{_base_.cgh_coco_ms_train_pipeline}}))
default_hooks = dict(checkpoint=dict(max_keep_ckpts=1))
# mmdet's epoch loop, except that a mid-epoch resume goes on with the next batch
# (registered in mmengine's root registry by cgh_mm.runtime).
train_cfg = dict(type='ResumableEpochBasedTrainLoop')
