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

# Loader sizing. Measured CPU time per two-view sample, one thread, on this
# project's 2-core machine shared with other jobs (`OMP_NUM_THREADS=1 python
# tools/analysis/loader_benchmark.py --device cpu --rounds 5`, JPEGs of 333x500 to
# 800x600): this pipeline 4.05 ms (247 samples/s per core), the all-CPU one of
# ./imagenet_cgh.py 11.2 ms (89/s), mmpretrain's MoCo v2 15.6 ms (64/s).
# - num_workers=10: 10 x 247 = about 2.5k samples/s per GPU; a worker makes a
#   batch of 32 in 32 x 4.05 = 130 ms, so 10 of them hand over one every ~13 ms
#   and data_time stays near 0 while the GPU step takes longer than that. A GPU
#   running CGH at S samples/s needs S / 247 workers at this core speed: read S
#   from the log (batch / (time - data_time)) and adjust.
# - CPUs: each GPU's process keeps 12 busy, its 10 workers, itself and its
#   pin-memory thread: tools/slurm_train.sh asks for 12 CPUs per task (96 per node
#   of 8 GPUs; tools/dist_train.sh needs as many cores on the node). With fewer,
#   lower both: CPUS_PER_TASK=N, train_dataloader.num_workers=N-2.
# - persistent_workers: no re-forking of the workers (each holding the 1.28M-entry
#   file list) at every one of the 200 epochs.
# - pin_memory: page-locked batches for an asynchronous copy; uint8 views are a
#   quarter of the bytes of float ones, 9.63 MB per batch of 32 two-view samples.
# - prefetch_factor=4 (PyTorch's default is 2): 4 batches ready per worker absorb
#   the spread of decode time between small and large JPEGs. Memory per GPU, at
#   most: the 10 x 4 = 40 batches requested, in shared memory (/dev/shm) until
#   pinned, 40 x 9.63 MB = 0.39 GB; pinned, those 40 and 2 more (the step's and the
#   next), each view in a block rounded up to a power of two (8 MiB), 42 x 16.8 MB =
#   0.70 GB; per node of 8 GPUs 3.1 GB of /dev/shm and 5.6 GB pinned
#   (tools/analysis/loader_sizing.py). With num_workers=0 (e.g. to debug) also set
#   prefetch_factor=None: PyTorch refuses it without workers.
train_dataloader = dict(
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    prefetch_factor=4,
    dataset=dict(pipeline=train_pipeline))
