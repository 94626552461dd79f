# Fashion-MNIST as a folder dataset, from
#   python tools/dataset_converters/fashion_mnist_to_folder.py
# data/fashion-mnist/{train,test}/<class>/<index>.png and meta/{train,test}.txt
# (lines `<class>/<index>.png <label>`, original class-mixed order).
# 28x28 grey PNGs are read as 3 identical channels and resized to 32 px.
_base_ = ['./cgh_two_views.py', './knn_monitor.py']

dataset_type = 'CustomDataset'
data_root = 'data/fashion-mnist'
classes = ('T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt',
           'Sneaker', 'Bag', 'Ankle_boot')

# View 0 (weak, teacher) and view 1 (strong, student) of ./cgh_two_views.py at 32 px.
# The images are grey: saturation, hue and grayscale jitter would do nothing, so only
# brightness and contrast are jittered; no blur at 32 px.
weak_view = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.0), backend='pillow'),
    dict(type='RandomFlip', prob=0.5),
]
strong_view = [
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.3, 1.0), backend='pillow'),
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4)],
         prob=0.8),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = _base_.train_pipeline
train_pipeline[1].transforms = [weak_view, strong_view]
test_pipeline = [
    dict(type='LoadImageFromFileChecked'),
    dict(type='Resize', scale=32, backend='pillow'),
    dict(type='PackInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    dataset=dict(type=dataset_type, data_root=data_root, ann_file='meta/train.txt',
                 data_prefix='train', metainfo=dict(classes=classes),
                 pipeline=train_pipeline))
# Online kNN monitor (./knn_monitor.py): labelled memory bank = a train subset (first
# 5000 of the class-mixed list), queries = the first 2000 test images; tools/demo.py
# measures the final numbers on all 10k test images.
knn_memory_dataloader = dict(
    num_workers=2, dataset=dict(train_dataloader['dataset'], indices=5000, pipeline=test_pipeline))
val_dataloader = dict(num_workers=2, dataset=dict(
    knn_memory_dataloader['dataset'], ann_file='meta/test.txt', data_prefix='test', indices=2000))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
