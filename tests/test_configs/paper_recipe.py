"""The paper's recipe (Gao, Feng & Patras, WACV 2024, arXiv 2308.13392, and the ImageNet
settings of its reference code, github.com/zaczgao/Cross-Context_Learning): the values the
recipe configs are checked against, stated once here."""

SPEC = dict(
    # pretraining on ImageNet, total batch 256
    backbone=dict(depth=50, out_indices=(2, 3)),  # ResNet-50 returning layer3 and layer4
    queue_len=131072,  # K, a multiple of the global batch
    feat_dim=512,
    teacher_momentum=0.999,
    temperatures=dict(teacher_global_temp=0.04, student_hypercolumn_temp=0.08,
                      teacher_hypercolumn_temp=0.08, student_global_temp=0.1, nce_temp=0.2),
    loss_weights=dict(hypercolumn_weight=0.5, global_weight=0.5),
    global_neck=(2048, 4096, 512),  # in, hidden, out channels
    hypercolumn_neck=((1024, 2048), 2048, 4096, 512),  # in, conv, hidden, out channels
    shuffle_teacher_bn=True,  # the reference's shuffle-BN (SyncBN: a config switch)
    # SGD, no weight decay on BN parameters and biases; lr scales linearly with the batch
    lr_per_256=0.05, momentum=0.9, weight_decay=1e-4,
    epochs=200, warmup_epochs=5,  # lr: linear warm-up, then cosine to 0; loss warm-up too
    # the two views: crop of each, colour augmentations of the strong (student) one
    view_size=224, crop_scale=(0.2, 1.0),
    jitter=(0.4, 0.4, 0.4, 0.1), jitter_prob=0.8, grayscale_prob=0.2,
    blur_sigma=(0.1, 2.0), blur_prob=0.5,
    local_crops=((192, (0.172, 0.86)), (160, (0.143, 0.715)), (128, (0.114, 0.571)),
                 (96, (0.086, 0.429))),  # multi-crop: size, scale range
    # evaluation protocols
    knn_k=(10, 20, 100, 200), knn_temperature=0.07,
    linear_probe=dict(lr=0.3, momentum=0.9, weight_decay=0.0, batch=256, epochs=100),
    semi_supervised=dict(trunk_lr=0.005, head_lr=0.02, milestones=[30, 60], epochs=70),
)
