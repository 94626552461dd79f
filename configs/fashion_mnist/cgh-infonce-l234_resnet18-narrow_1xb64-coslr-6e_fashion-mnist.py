# Study control `infonce-l234` (docs/study.md, second follow-up): the `cross-l234`
# variant (hypercolumn of layer2 + layer3 + layer4) with alpha held at 0, i.e. InfoNCE of
# both contexts for the whole schedule and no relational loss.
_base_ = ['./cgh-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(head=dict(alpha=0.0))
custom_hooks = [dict(type='CGHHealthHook')]  # no WarmupParamHook: alpha stays at 0
