# Study baseline (docs/study.md): global relations only, ReSSL-style. The teacher's
# global relations (T=0.04) teach the student's global relations (T=0.1), with weight 1
# as in ReSSL; no hypercolumn neck, queue or relations are built, and the backbone returns
# only its last stage. Warm-up, queue, EMA, optimiser and data are the demo config's.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(
    backbone=dict(out_indices=(3, )),
    hypercolumn_neck=None,
    head=dict(teaching='global', global_weight=1.0))
