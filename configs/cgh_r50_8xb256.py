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
# Loader: the same 10 workers as at 32 images per step (a GPU needs about as many
# samples/s); 2 batches ready per worker instead of 4, which bounds the shared and pinned
# memory per GPU (docs/gpu.md, "Loader sizing").
train_dataloader = dict(batch_size=256, num_workers=10, prefetch_factor=2)
optim_wrapper = dict(optimizer=dict(lr=0.05))
auto_scale_lr = dict(base_batch_size=256, enable=True)
