# CGH, ResNet-18 (ImageNet stem), Tiny-ImageNet train (100k images, 64 px),
# 1 GPU x 256, lr 0.05, queues of 16384, 200 epochs (5 warm-up), paper temperatures.
# Online kNN monitor (train as memory bank, val as queries) every 10 epochs.
_base_ = [
    '../_base_/models/cgh_r18.py',
    '../_base_/datasets/tiny_imagenet_cgh.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

model = dict(queue_len=16384, teacher_momentum=0.996)
train_cfg = dict(val_interval=10)
