# COCO multi-scale training of the MoCo detection protocol: shorter side drawn from
# 640-800 (testing stays at 800). `cgh_` prefix: mmdet's dataset base already defines
# `train_pipeline`; configs put this into `train_dataloader.dataset.pipeline`.
cgh_coco_ms_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736), (1333, 768),
                (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
