# The ImageNet-1k recipe with every augmentation on the CPU (the reference path,
# the pipeline of ../_base_/datasets/imagenet_cgh.py): the data preprocessor only
# normalises. It needs more CPU time per sample than the default split (docs/gpu.md,
# "Loader sizing").
#   tools/dist_train.sh configs/cgh/cgh_resnet50_8xb32-coslr-200e_in1k_cpu-aug.py 8
_base_ = ['./cgh_resnet50_8xb32-coslr-200e_in1k.py']

# ViewAugmentDataPreprocessor with nothing to do per view is SelfSupDataPreprocessor.
model = dict(data_preprocessor=dict(view_pipelines=[[], []]))
train_dataloader = dict(dataset=dict(pipeline={{_base_.cpu_aug_train_pipeline}}))
