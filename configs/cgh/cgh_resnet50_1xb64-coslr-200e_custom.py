# CGH, ResNet-50 with the paper's necks and views, on a folder of your own images
# (docs/own_data.md): 1 GPU x 64 images, 200 epochs of SGD with 5 linear warm-up epochs
# then cosine, lr 0.05 x total batch / 256 (auto-scaled: 0.0125 on 1 GPU, 0.05 on 4).
#   python tools/train.py configs/cgh/cgh_resnet50_1xb64-coslr-200e_custom.py \
#       --cfg-options train_dataloader.dataset.data_root=/path/to/images
_base_ = [
    '../_base_/models/cgh_r50.py',
    '../_base_/datasets/imagenet_cgh.py',  # the paper's two views at 224 px, 8 workers
    '../_base_/schedules/sgd_coslr_200e.py',
    '../_base_/default_runtime.py',
]

# Every image file under data_root, sub-folders included; no labels are read.
train_dataloader = dict(
    batch_size=64,
    dataset=dict(
        _delete_=True,
        type='CustomDatasetChecked',  # says which files it skips
        data_root='data/my_images',
        with_label=False,
        pipeline={{_base_.train_pipeline}}))

# A multiple of the global batch, and at most the number of images.
model = dict(queue_len=16384)
auto_scale_lr = dict(base_batch_size=256, enable=True)

# InfoNCE warm-up: head.alpha goes from 0 to 1 over 5 epochs. One refill of the queues
# takes queue_len / global batch = 16384 / 64 = 256 iterations, at most one epoch on a
# dataset of at least queue_len images, so the warm-up spans at least 5 refills.
custom_hooks = [
    dict(type='WarmupParamHook', param_name='alpha', module_name='head', warmup_epochs=5),
    dict(type='CGHHealthHook'),
]
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=10, max_keep_ckpts=2))
