# Online kNN monitor for ImageNet (off by default: add this file to `_base_`,
# as configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_knn.py does).
# Memory bank: the labelled ImageNet 1% subset, data/imagenet/meta/train_1percent.txt
# (lines `<wnid>/<file>.JPEG <label>`, paths relative to data/imagenet/train, about
# 12.8k images); queries: the 50k val images (meta/val.txt).
# Its only base is ./knn_monitor.py, so that it can be added next to a full ImageNet config.
_base_ = ['./knn_monitor.py']

knn_test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

knn_memory_dataloader = dict(batch_size=128, dataset=dict(
    type='ImageNet', data_root='data/imagenet', ann_file='meta/train_1percent.txt',
    data_prefix='train', pipeline=knn_test_pipeline))
val_dataloader = dict(batch_size=128, dataset=dict(
    type='ImageNet', data_root='data/imagenet', split='val', pipeline=knn_test_pipeline))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
