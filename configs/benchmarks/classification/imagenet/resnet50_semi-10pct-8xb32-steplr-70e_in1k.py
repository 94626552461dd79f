# Semi-supervised fine-tuning with 10% of the ImageNet labels; as the 1% config.
_base_ = ['./resnet50_semi-1pct-8xb32-steplr-70e_in1k.py']

train_dataloader = dict(dataset=dict(ann_file='meta/train_10percent.txt'))
