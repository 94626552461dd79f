# ImageNet-1k for CGH pretraining with the work split between CPU and GPU: the
# loader workers only decode, crop and flip, and hand over uint8 views; the colour
# augmentations of ./imagenet_cgh.py (jitter, grayscale, blur) run batched on the
# GPU in the model's data preprocessor, cgh_mm's ViewAugmentDataPreprocessor,
# reproducing the CPU transforms (same parameter distributions and op order per
# sample; same pixels within rounding, see
# tests/test_models/test_data_preprocessors/).
#
# A recipe using this file must also set the preprocessor, or the strong view goes
# without colour augmentation (CGHHealthHook refuses such a recipe before training):
#   model = dict(data_preprocessor={{_base_.view_augment_preprocessor}})
# (configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py does). The all-CPU pipeline
# stays in ./imagenet_cgh.py, kept here as `cpu_aug_train_pipeline`; the recipe
# configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py selects it.
_base_ = ['./imagenet_cgh.py']

cpu_aug_train_pipeline = {{_base_.train_pipeline}}

# What the CPU still does, per view. Flipping before the colour ops instead of
# after changes nothing: they are per pixel or a symmetric blur.
# ContiguousRandomResizedCrop: mmpretrain's RandomResizedCrop, same draws and
# pixels, without Pillow's slow copy of a strided crop.
weak_view = [
    dict(type='ContiguousRandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0),
         backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
strong_view = weak_view
train_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='MultiView', num_views=[1, 1], transforms=[weak_view, strong_view]),
    dict(type='PackInputs'),
]

# The colour part of the strong view, for the GPU; the same arguments as the CPU
# transforms (RandomApply's prob moved into ColorJitter, GaussianBlur's
# magnitude_range with magnitude_std='inf' is its sigma_range).
strong_colour = [
    dict(type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='GaussianBlur', sigma_range=(0.1, 2.0), prob=0.5),
]
# non_blocking: the views come from pinned memory (pin_memory below), so their
# host-to-GPU copy is queued without waiting for it.
view_augment_preprocessor = dict(type='ViewAugmentDataPreprocessor',
                                 view_pipelines=[[], strong_colour], non_blocking=True)

# Loader sizing (measurements and arithmetic: docs/gpu.md, "Loader sizing"): 10 workers
# at this pipeline's CPU cost per sample keep a GPU fed, 12 CPUs per GPU with the
# training process and its pin-memory thread (tools/slurm_train.sh's default); persistent
# workers are not re-forked every epoch; pinned uint8 batches copy to the GPU
# asynchronously; 4 batches per worker absorb the spread of JPEG decode times. With
# num_workers=0 (e.g. to debug) also set prefetch_factor=None: PyTorch refuses it
# without workers.
train_dataloader = dict(
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    prefetch_factor=4,
    dataset=dict(pipeline=train_pipeline))
