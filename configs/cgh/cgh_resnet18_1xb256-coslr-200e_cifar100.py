# CGH, ResNet-18 with the small-image stem, CIFAR-100 (32 px), 1 GPU x 256,
# lr 0.05 x 256 / 256, queues of 16384, 200 epochs (5 warm-up), paper temperatures.
# Online kNN monitor (k=20, T=0.07, train set as memory bank) every 10 epochs.
_base_ = [
    '../_base_/models/cgh_r18_cifar.py',
    '../_base_/datasets/cifar100_cgh.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

model = dict(queue_len=16384)
train_cfg = dict(val_interval=10)
