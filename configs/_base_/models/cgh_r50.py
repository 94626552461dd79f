# CGH with ResNet-50: hypercolumn of layer3 + layer4, global branch on layer4.
model = dict(
    type='CGH',
    queue_len=131072,
    feat_dim=512,
    teacher_momentum=0.999,
    shuffle_teacher_bn=True,
    num_local_crops=0,
    queue_dtype='float32',
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        # host-to-GPU copies of the (pinned) batch overlap with the previous step's kernels
        non_blocking=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        out_indices=(2, 3),
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=4096,
        out_channels=512,
        with_avg_pool=True),
    hypercolumn_neck=dict(
        type='HypercolumnNeck',
        in_channels=(1024, 2048),
        stage_indices=(0, 1),
        conv_channels=2048,
        hid_channels=4096,
        out_channels=512,
        norm_cfg=dict(type='BN')),
    head=dict(
        type='CrossContextHead',
        teacher_global_temp=0.04,
        student_hypercolumn_temp=0.08,
        teacher_hypercolumn_temp=0.08,
        student_global_temp=0.1,
        nce_temp=0.2,
        hypercolumn_weight=0.5,
        global_weight=0.5))
