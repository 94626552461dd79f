# ImageNet-1k for CGH pretraining: mmpretrain's ImageNet dataset in data/imagenet
# (train/ folders, meta/train.txt as mmpretrain documents), the paper's two views
# (./cgh_two_views.py) with every augmentation on the CPU. The ImageNet recipes split
# the augmentations between CPU and GPU instead (./imagenet_cgh_device-aug.py).
_base_ = ['./cgh_two_views.py']

dataset_type = 'ImageNet'
data_root = 'data/imagenet'
test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]

# 8 workers, the training process and its pin-memory thread: 10 CPUs per GPU, within
# tools/slurm_train.sh's 12 (samples/s per worker: docs/gpu.md, loader sizing).
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    pin_memory=True,
    dataset=dict(type=dataset_type, data_root=data_root, split='train',
                 pipeline={{_base_.train_pipeline}}))
