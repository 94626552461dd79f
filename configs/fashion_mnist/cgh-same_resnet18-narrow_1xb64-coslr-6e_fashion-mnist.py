# Study ablation (docs/study.md): the `make demo` CGH run with each context teaching
# itself (teacher global -> student global, teacher hypercolumn -> student hypercolumn)
# instead of across. Everything else is the demo config.
_base_ = ['./cgh_resnet18-narrow_1xb64-coslr-6e_fashion-mnist.py']

model = dict(head=dict(teaching='same'))
