# kNN / k-means evaluation of the backbone of configs/cgh/cgh_resnet18_1xb16-2e_synthetic.py
# on generated images (no dataset on disk): a demo of tools/analysis/knn_eval.py and
# cluster_eval.py. train = fit (memory) set, test = query set, 4 classes.
#   python tools/analysis/knn_eval.py THIS_CONFIG work_dirs/.../epoch_2.pth
_base_ = ['../../../_base_/default_runtime.py']

model = dict(
    backbone=dict(type='ResNet', depth=18, out_indices=(3, ), norm_cfg=dict(type='BN')),
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True))

test_pipeline = [dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(type='SyntheticImageDataset', num_images=256, image_size=64,
                 num_classes=4, seed=0, pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=32,
    num_workers=0,
    dataset=dict(type='SyntheticImageDataset', num_images=128, image_size=64,
                 num_classes=4, seed=1, pipeline=test_pipeline))
