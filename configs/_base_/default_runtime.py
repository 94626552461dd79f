# Runtime shared by every CGH config: mmpretrain scope, cgh_mm registered (each
# sub-package registers its modules; `import cgh_mm` alone registers nothing).
default_scope = 'mmpretrain'
custom_imports = dict(
    imports=['cgh_mm.datasets', 'cgh_mm.engine', 'cgh_mm.evaluation', 'cgh_mm.models',
             'cgh_mm.runtime'],
    allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # written to a temporary file and renamed into place: a kill never leaves a
    # half-written checkpoint
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # random generators of every rank saved with each checkpoint, restored on resume
    random_state=dict(type='RandomStateHook'),
    # mmengine's checkpoints load under torch's weights_only=True for this run only
    checkpoint_globals=dict(type='CheckpointGlobalsHook'),
    # a checkpoint of another model given to --resume / load_from is an error
    checkpoint_match=dict(type='CheckpointMatchHook'),
    # NaN/inf loss: stop before the next checkpoint, name the last good one
    non_finite_loss=dict(type='NonFiniteLossHook'),
)

env_cfg = dict(
    # every CGH pipeline crops to fixed sizes: cuDNN tunes its convolutions once per input
    # shape and keeps the fastest (no effect on CPU). TF32 is left at torch's defaults:
    # on for cuDNN convolutions, off for matmuls, so the relation products stay float32.
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

# mmengine's DDP wrapper with CGH's train_step: the teacher moves once per optimizer step
# under gradient accumulation, and compile=True leaves the optimizer step uncompiled
# (scoped name: mmengine's Runner looks wrappers up in its own registry first)
model_wrapper_cfg = dict(type='mmpretrain.CGHDistributedDataParallel', broadcast_buffers=False,
                         find_unused_parameters=False)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(window_size=10)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
