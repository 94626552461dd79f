# CGH, ResNet-18 (ImageNet stem), ImageNet-100 (a class subset from the list file
# data/imagenet100/classes.txt: see configs/_base_/datasets/imagenet100_cgh.py),
# 4 GPUs x 64 = 256, lr 0.05, queues of 16384, 200 epochs (5 warm-up), 224 px,
# paper temperatures. Online kNN monitor (train as memory bank) every 10 epochs.
_base_ = [
    '../_base_/models/cgh_r18.py',
    '../_base_/datasets/imagenet100_cgh.py',
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

model = dict(queue_len=16384)
train_dataloader = dict(batch_size=64)
train_cfg = dict(val_interval=10)
