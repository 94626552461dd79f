# Online kNN monitor for ImageNet (off by default: add this file to `_base_`,
# as configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_knn.py does).
# Memory bank: the labelled ImageNet 1% subset, data/imagenet/meta/train_1percent.txt
# (lines `<wnid>/<file>.JPEG <label>`, paths relative to data/imagenet/train, about
# 12.8k images); queries: the 50k val images (meta/val.txt).
# Standalone (no `_base_`) so that it can be added next to a full ImageNet config.
knn_test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

knn_memory_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        ann_file='meta/train_1percent.txt',
        data_prefix='train',
        pipeline=knn_test_pipeline))
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='ImageNet',
        data_root='data/imagenet',
        split='val',
        pipeline=knn_test_pipeline))
val_evaluator = dict(type='WeightedKNNAccuracy', k=20, temperature=0.07)
val_cfg = dict(type='KNNValLoop', memory_dataloader=knn_memory_dataloader)
