# STL-10 as folders (tools/dataset_converters writes them from the binary files):
#   data/stl10/unlabeled/<any>/*.png  (100k images, no labels)
#   data/stl10/{train,test}/<class>/*.png  (5k / 8k labelled images)
# Pretraining reads unlabeled + train (labels unused) with the paper's two views
# (./cgh_two_views.py) at 96 px.
# Online kNN monitor (./knn_monitor.py): memory bank = train (5k), queries = test (8k).
_base_ = ['./cgh_two_views.py', './knn_monitor.py']

dataset_type = 'CustomDataset'
data_root = 'data/stl10'

train_pipeline = _base_.train_pipeline
weak_view, strong_view = train_pipeline[1].transforms
weak_view[0].scale = strong_view[0].scale = 96
test_pipeline = [dict(type='LoadImageFromFileChecked'), dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=256,
    num_workers=8,
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(type=dataset_type, data_root=data_root, data_prefix=folder,
                 with_label=False, pipeline=train_pipeline)
            for folder in ('unlabeled', 'train')
        ]))
knn_memory_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='train', pipeline=test_pipeline))
val_dataloader = dict(dataset=dict(knn_memory_dataloader['dataset'], data_prefix='test'))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
