# ImageNet-100: a 100-class subset of ImageNet-1k, read as class folders by
# mmpretrain's CustomDataset from data/imagenet100/{train,val}/<wnid>/*.JPEG.
#
# The subset is a list file you supply, data/imagenet100/classes.txt: one WordNet
# id per line, 100 lines, sorted (e.g. the CMC list), such as
#     n01558993
#     n01692333
#     ...
# Build the folders from an ImageNet-1k copy in data/imagenet (train/<wnid>/ and,
# for val, the images regrouped by class as val_folders/<wnid>/) with links:
#     mkdir -p data/imagenet100/train data/imagenet100/val
#     while read w; do
#       ln -s "$PWD/data/imagenet/train/$w" data/imagenet100/train/$w
#       ln -s "$PWD/data/imagenet/val_folders/$w" data/imagenet100/val/$w
#     done < data/imagenet100/classes.txt
# `classes=` below makes the dataset check that the folders match the list.
# Online kNN monitor (./knn_monitor.py): memory bank = the train images, queries = val.
_base_ = ['./imagenet_cgh.py', './knn_monitor.py']

dataset_type = 'CustomDataset'
data_root = 'data/imagenet100'
class_list = 'data/imagenet100/classes.txt'
train_dataloader = dict(
    batch_size=256,
    dataset=dict(_delete_=True, type=dataset_type, data_root=data_root, data_prefix='train',
                 with_label=False, pipeline={{_base_.train_pipeline}}))
knn_memory_dataloader = dict(dataset=dict(
    type=dataset_type, data_root=data_root, data_prefix='train', classes=class_list,
    pipeline={{_base_.test_pipeline}}))
val_dataloader = dict(dataset=dict(knn_memory_dataloader['dataset'], data_prefix='val'))
val_cfg = dict(memory_dataloader=knn_memory_dataloader)
