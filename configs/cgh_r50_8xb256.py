# CGH, ResNet-50, ImageNet-1k, 8 GPUs x 256 images (total 2048):
#   tools/dist_train.sh configs/cgh_r50_8xb256.py 8 [--amp]
# The paper recipe with lr scaled linearly from 0.05 at batch 256: the config holds
# lr=0.05 and auto_scale_lr=dict(base_batch_size=256, enable=True), so the Runner
# uses 0.05 x (GPUs x 256) / 256 = 0.4 on 8 GPUs, and stays right on other GPU
# counts (the log prints the scaled lr). Queues of 131072 (a multiple of 2048), 200
# epochs, 5 warm-up epochs of lr (linear, per iteration) and of the loss.
#
# BatchNorm: shuffle-BN by default. SyncBN switch (backbone and hypercolumn neck;
# the teacher then needs no shuffle):
#   --cfg-options model.backbone.norm_cfg.type=SyncBN \
#       model.hypercolumn_neck.norm_cfg.type=SyncBN model.shuffle_teacher_bn=False
# Online kNN monitor: add '_base_/datasets/imagenet_knn.py' to `_base_` and set
# `train_cfg = dict(val_interval=10)`.
_base_ = [
    './cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py',
]

model = dict(queue_len=131072)
# Loader: a GPU needs the same samples/s as at 32 images per step, so the same 10
# workers (12 CPUs per task, tools/slurm_train.sh's default). A batch of 256 is 77.1 MB
# of uint8 views and takes a worker ~1 s; 2 batches per worker (10 x 2 x 256 = 5120
# samples, ~2 s of steps) absorb the decode spread that prefetch_factor=4 covers at 32.
# Memory per GPU, at most: 20 x 77.1 MB = 1.54 GB of /dev/shm and 22 x 134 MB (each
# view pinned in a 64 MiB block) = 2.95 GB pinned; per node of 8 GPUs 12.3 GB and
# 23.6 GB (16 workers x 4 would hold 4.9 GB and 8.9 GB per GPU).
train_dataloader = dict(batch_size=256, num_workers=10, prefetch_factor=2)
optim_wrapper = dict(optimizer=dict(lr=0.05))
auto_scale_lr = dict(base_batch_size=256, enable=True)
