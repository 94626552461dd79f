# Study control (docs/study.md): the demo CGH run with alpha held at 0, i.e. the warm-up's
# InfoNCE (global + hypercolumn contexts) for the whole schedule and no relational loss.
# Shows what the relational phase adds over its own warm-up.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(head=dict(alpha=0.0))
custom_hooks = [dict(type='CGHHealthHook')]  # no WarmupParamHook: alpha stays at 0
