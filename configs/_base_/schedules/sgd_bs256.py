# The paper's optimiser at total batch 256: SGD lr 0.05, momentum 0.9, weight decay
# 1e-4 except on BN parameters and biases.
optim_wrapper = dict(
    type='OptimWrapper',
    # one summary line instead of a log line per parameter
    constructor='QuietOptimWrapperConstructor',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
