# The paper setting with the online kNN monitor (k=20, T=0.07) every 10 epochs:
# memory bank = the ImageNet 1% subset, queries = the val set
# (see configs/_base_/datasets/imagenet_knn.py for the files it reads).
_base_ = [
    './cgh_resnet50_8xb32-coslr-200e_in1k.py',
    '../_base_/datasets/imagenet_knn.py',
]

train_cfg = dict(val_interval=10)
