# Semi-supervised fine-tuning of a CGH ResNet-50 with 1% of the ImageNet labels: the
# linear probe's model, weights and data (./resnet50_linear-8xb32-coslr-100e_in1k.py)
# with the whole network trained: trunk lr 0.005, head lr 0.02, momentum 0.9, decay
# x0.1 at epochs 30 and 60, 70 epochs, total batch 256. The annotation file comes from
#   python tools/dataset_converters/make_semi_supervised_split.py data/imagenet/train \
#       --subset-file 1percent.txt --out data/imagenet/meta/train_1percent.txt
_base_ = ['./resnet50_linear-8xb32-coslr-100e_in1k.py']

model = dict(backbone=dict(frozen_stages=-1, norm_eval=False))
train_dataloader = dict(
    dataset=dict(split='', data_prefix='train', ann_file='meta/train_1percent.txt'))

optim_wrapper = dict(optimizer=dict(lr=0.005),
                     paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=4)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1)
]
train_cfg = dict(max_epochs=70)
