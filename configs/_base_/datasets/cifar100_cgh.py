# CIFAR-100: as CIFAR-10 (./cifar10_cgh.py), mmpretrain's CIFAR100 in data/cifar100.
_base_ = ['./cifar10_cgh.py']

dataset_type = 'CIFAR100'
data_root = 'data/cifar100'
train_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
knn_memory_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_dataloader = dict(dataset=dict(type=dataset_type, data_root=data_root))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
