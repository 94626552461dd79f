# Study control `same-l234` (docs/study.md, second follow-up): the `cross-l234` variant
# (hypercolumn of layer2 + layer3 + layer4) with each context teaching itself.
_base_ = ['./cgh-l234_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(head=dict(teaching='same'))
