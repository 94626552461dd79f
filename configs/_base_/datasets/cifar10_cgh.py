# CIFAR-10 for CGH pretraining, mmpretrain's CIFAR10 dataset reading the python
# batches in data/cifar10 (cifar-10-batches-py; nothing is downloaded).
# The paper's two views (./cgh_two_views.py) at 32 px, without blur: at 32 px it erases
# the image (as in the usual CIFAR recipes).
# Online kNN monitor (./knn_monitor.py): memory bank = the 50k train images, queries =
# the 10k test images.
_base_ = ['./cgh_two_views.py', './knn_monitor.py']

dataset_type = 'CIFAR10'
data_root = 'data/cifar10'

train_pipeline = _base_.train_pipeline[1:]  # the dataset holds decoded images
weak_view, strong_view = train_pipeline[0].transforms
weak_view[0].scale = strong_view[0].scale = 32
del strong_view[3]  # GaussianBlur
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=256,
    num_workers=4,
    dataset=dict(type=dataset_type, data_root=data_root, split='train', download=False,
                 pipeline=train_pipeline))
knn_memory_dataloader = dict(batch_size=512, num_workers=4,
                             dataset=dict(train_dataloader['dataset'], pipeline=test_pipeline))
val_dataloader = dict(batch_size=512, num_workers=4,
                      dataset=dict(knn_memory_dataloader['dataset'], split='test'))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
