# Study ablation (docs/study.md): the `make demo` CGH run with each context teaching
# itself (teacher global -> student global, teacher hypercolumn -> student hypercolumn)
# instead of across. Everything else is the demo config.
_base_ = ['../cgh/cgh_resnet18_1xb64-fashion-mnist_demo.py']

model = dict(head=dict(teaching='same'))
