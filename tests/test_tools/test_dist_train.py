"""tools/dist_train.sh with 2 CPU processes (gloo): both ranks end with the same queues."""
import subprocess
import textwrap

import pytest
import torch

from cgh_mm.runtime import load_checkpoint_safely

from .dist_helpers import REPO, TINY_CONFIG, free_port, tool_env

QUEUE_KEYS = ('global_queue', 'hypercolumn_queue', 'queue_ptr')

DUMP_HOOK = '''
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS

QUEUE_KEYS = ('global_queue', 'hypercolumn_queue', 'queue_ptr')


@HOOKS.register_module()
class QueueDumpHook(Hook):
    """Each rank writes its queues after training, as a checkpoint would hold them."""

    def after_train(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        state = model.state_dict()
        torch.save({k: state[k].clone() for k in QUEUE_KEYS},
                   f'{runner.work_dir}/queues_rank{get_rank()}.pt')
'''


@pytest.mark.slow
@pytest.mark.parametrize('accumulative_counts, teacher_steps', [(1, 3), (2, 2)])
def test_dist_train_two_cpu_ranks_share_queues(tmp_path, accumulative_counts, teacher_steps):
    (tmp_path / 'queue_dump_hook.py').write_text(DUMP_HOOK)
    config = tmp_path / 'dist_config.py'
    config.write_text(textwrap.dedent(f'''
        _base_ = [{str(TINY_CONFIG)!r}]
        custom_imports = dict(imports=['cgh_mm.datasets', 'cgh_mm.engine', 'cgh_mm.evaluation',
                                       'cgh_mm.models', 'cgh_mm.runtime', 'queue_dump_hook'],
                              allow_failed_imports=False)
        # 3 epochs of 3 iterations outlast a refill of the 64 slots (8 iterations)
        custom_hooks = [dict(type='WarmupParamHook', param_name='alpha', module_name='head',
                             warmup_epochs=3),
                        dict(type='CGHHealthHook'), dict(type='QueueDumpHook')]
        log_level = 'WARNING'
    '''))
    work_dir = tmp_path / 'work'
    batch_per_gpu, world_size, images = 4, 2, 24
    iterations = images // (batch_per_gpu * world_size)
    env = tool_env(PORT=str(free_port()))
    env['PYTHONPATH'] += f':{tmp_path}'
    proc = subprocess.run(
        [str(REPO / 'tools' / 'dist_train.sh'), str(config), str(world_size),
         '--work-dir', str(work_dir), '--cfg-options',
         f'train_dataloader.batch_size={batch_per_gpu}',
         f'train_dataloader.dataset.num_images={images}',
         'train_dataloader.dataset.image_size=32',
         'train_cfg.max_epochs=1', 'model.queue_len=64',
         f'optim_wrapper.accumulative_counts={accumulative_counts}'],
        env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]

    ranks = [load_checkpoint_safely(str(work_dir / f'queues_rank{r}.pt'))
             for r in range(world_size)]
    checkpoint = load_checkpoint_safely(str(work_dir / 'epoch_1.pth'))['state_dict']
    for key in QUEUE_KEYS:
        assert torch.equal(ranks[0][key], ranks[1][key]), key
        assert torch.equal(checkpoint[key], ranks[1][key]), key
    # 3 iterations: the teacher moves once per optimizer step (with 2 micro-batches per
    # step: at iterations 1 and 3, the last step has the last micro-batch only) ...
    assert int(checkpoint['teacher.steps']) == teacher_steps
    # ... and every iteration enqueued the whole global batch, gathered from both ranks
    assert int(ranks[0]['queue_ptr']) == world_size * batch_per_gpu * iterations
    assert int(ranks[0]['queue_ptr']) < 64  # no wrap-around: the count above is exact
    # the filled slots (rows) hold unit-norm teacher embeddings
    filled = checkpoint['global_queue'][:world_size * batch_per_gpu * iterations]
    torch.testing.assert_close(filled.norm(dim=1), torch.ones(filled.shape[0]))

