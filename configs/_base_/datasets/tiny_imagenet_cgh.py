# Tiny-ImageNet as folders (tools/dataset_converters regroups the val images):
#   data/tiny-imagenet/{train,val}/<wnid>/*.JPEG  (100k train / 10k val, 200 classes, 64 px)
# Read as STL-10's folders are (./stl10_cgh.py): the paper's two views, here at 64 px,
# from train only. Online kNN monitor: memory bank = train, queries = val.
_base_ = ['./stl10_cgh.py']

data_root = 'data/tiny-imagenet'
train_pipeline = _base_.train_pipeline
weak_view, strong_view = train_pipeline[1].transforms
weak_view[0].scale = strong_view[0].scale = 64

train_dataloader = dict(dataset=dict(_delete_=True, type='CustomDataset', data_root=data_root,
                                     data_prefix='train', pipeline=train_pipeline))
knn_memory_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root, data_prefix='val'))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
