# CGH, ResNet-50, ImageNet-1k: the paper's exact setting. Total batch 256
# (8 GPUs x 32), lr 0.05, queues of 131072, 200 epochs, 5 warm-up epochs.
#   tools/dist_train.sh configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k.py 8
#
# Data: the loader workers decode, crop and flip; the strong view's colour
# augmentations run on the GPU (../_base_/datasets/imagenet_cgh_device-aug.py).
# All on the CPU instead: ./cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py.
#
# BatchNorm: shuffle-BN by default (the teacher's batch is shuffled across GPUs,
# as MoCo and the reference code). SyncBN instead:
#   --cfg-options model.backbone.norm_cfg.type=SyncBN \
#       model.hypercolumn_neck.norm_cfg.type=SyncBN model.shuffle_teacher_bn=False
_base_ = [
    '../_base_/models/cgh_r50.py',
    '../_base_/datasets/imagenet_cgh_device-aug.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

# channels_last: NHWC weights for student and teacher, cuDNN's tensor-core layout
model = dict(queue_len=131072, shuffle_teacher_bn=True, channels_last=True,
             data_preprocessor={{_base_.view_augment_preprocessor}})
train_dataloader = dict(batch_size=32)
# Fused SGD: under --amp the gradient scaler hands it the inf/NaN flag of the gradients
# on the GPU, where with an unfused optimizer the host reads that flag (.item(), a wait
# for the GPU) before every step.
optim_wrapper = dict(optimizer=dict(fused=True))
