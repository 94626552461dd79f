"""2 processes x batch b (gloo, CPU) train CGH exactly as 1 process x batch 2b.

BatchNorm normalises over the per-process batch, so with BN the two setups are
different models by design. Here the backbone and the hypercolumn neck use
GroupNorm, which normalises each sample alone: every per-sample quantity (the
embeddings, each term of the batch-mean losses) is then the same in both
setups, DDP's gradient average over two half batches equals the full-batch
gradient, and the all-gathered teacher keys fill the queue slots in the same
order as one process's batch.
"""
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from tests.helpers import tiny_cgh_cfg

pytestmark = pytest.mark.slow

BATCH_PER_PROCESS = 4
STEPS = 3
WORLD_SIZE = 2


def group_norm_cgh() -> dict:
    cfg = tiny_cgh_cfg()
    cfg['backbone']['norm_cfg'] = dict(type='GN', num_groups=8, requires_grad=True)
    cfg['hypercolumn_neck']['norm_cfg'] = dict(type='GN', num_groups=8)
    cfg.update(queue_len=32, shuffle_teacher_bn=False)
    return cfg


def train_steps(rank: int, world_size: int, batch: int, out_file: str,
                init_file: str = '') -> None:
    """``STEPS`` SGD steps on this rank's slice of a fixed global batch; saves the state."""
    if world_size > 1:
        dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                                world_size=world_size)
    torch.set_num_threads(1)  # the same arithmetic in every process
    torch.manual_seed(0)
    model = MODELS.build(group_norm_cgh())
    model.init_weights()
    model.train()
    model.head.alpha = 0.5  # every loss term weighted
    runner_model = model
    if world_size > 1:
        runner_model = MMDistributedDataParallel(model, device_ids=None,
                                                 broadcast_buffers=False)
    optim_wrapper = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9,
        weight_decay=1e-4))
    initial_global_queue = model.global_queue.clone()
    data_rng = torch.Generator().manual_seed(1)
    losses = []
    for _ in range(STEPS):
        global_views = [torch.rand(batch * world_size, 3, 32, 32, generator=data_rng) * 255
                        for _ in range(2)]
        mine = [v[rank * batch:(rank + 1) * batch] for v in global_views]
        data = dict(inputs=mine, data_samples=[DataSample() for _ in range(batch)])
        log_vars = runner_model.train_step(data, optim_wrapper)
        losses.append({k: float(v.detach()) for k, v in log_vars.items() if 'loss' in k})
    state = model.state_dict()  # holds the last step's keys too
    torch.save(dict(losses=losses, initial_global_queue=initial_global_queue,
                    **{k: state[k] for k in ('global_queue', 'hypercolumn_queue', 'queue_ptr')}),
               out_file)
    if world_size > 1:
        dist.destroy_process_group()


def _spawned(rank: int, tmp_dir: str) -> None:
    train_steps(rank, WORLD_SIZE, BATCH_PER_PROCESS, f'{tmp_dir}/rank{rank}.pth',
                init_file=f'{tmp_dir}/init')


def test_two_processes_match_one_with_the_global_batch(tmp_path):
    # fork: spawned children would re-import the whole stack (most of the test's
    # time); each child runs one thread, which is safe after a fork
    mp.start_processes(_spawned, args=(str(tmp_path), ), nprocs=WORLD_SIZE, join=True,
                       start_method='fork')
    threads = torch.get_num_threads()
    try:
        train_steps(0, 1, BATCH_PER_PROCESS * WORLD_SIZE, str(tmp_path / 'single.pth'))
    finally:
        torch.set_num_threads(threads)

    single = torch.load(tmp_path / 'single.pth', weights_only=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth', weights_only=True)
             for r in range(WORLD_SIZE)]
    assert int(single['queue_ptr']) == STEPS * BATCH_PER_PROCESS * WORLD_SIZE
    written = STEPS * BATCH_PER_PROCESS * WORLD_SIZE
    assert not torch.allclose(single['global_queue'][:written],
                              single['initial_global_queue'][:written])
    for result in ranks:
        assert torch.equal(result['queue_ptr'], single['queue_ptr'])
        for queue in ('global_queue', 'hypercolumn_queue'):
            torch.testing.assert_close(result[queue][:written],
                                       single[queue][:written], rtol=0, atol=1e-5)
            # the slots not written yet still hold the same random initial keys
            assert torch.equal(result[queue][written:], single[queue][written:])
    for step in range(STEPS):
        for term in ('loss', 'loss_nce', 'loss_hyper', 'loss_global'):
            mean_over_ranks = sum(r['losses'][step][term] for r in ranks) / WORLD_SIZE
            assert abs(mean_over_ranks - single['losses'][step][term]) < 1e-5, (step, term)


def _shuffle_bn_rank(rank: int, tmp_dir: str) -> None:
    """One of 2 gloo processes: shuffle-BN against mmpretrain's, then the loss traced by
    torch.compile; writes what it found."""
    from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp

    from cgh_mm.models.algorithms.cgh import shuffle_across_ranks

    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/init', rank=rank,
                            world_size=WORLD_SIZE)
    torch.set_num_threads(1)
    images = torch.randn(BATCH_PER_PROCESS, 3, 8, 8) + rank
    torch.manual_seed(3)
    shuffled, unshuffle = shuffle_across_ranks(images)
    torch.manual_seed(3)
    expected, expected_unshuffle = batch_shuffle_ddp(images)
    same_as_mmpretrain = (torch.equal(shuffled, expected)
                          and torch.equal(unshuffle, expected_unshuffle))
    torch.manual_seed(0)
    cfg = tiny_cgh_cfg()
    cfg.update(queue_len=32, shuffle_teacher_bn=True)
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    inputs = [torch.randn(BATCH_PER_PROCESS, 3, 32, 32) for _ in range(2)]
    model.loss(inputs, None)  # keys pending: the traced step writes them
    explanation = torch._dynamo.explain(model.loss)(inputs, None)
    torch.save(dict(same_as_mmpretrain=same_as_mmpretrain,
                    unshuffled=torch.equal(batch_unshuffle_ddp(shuffled, unshuffle), images),
                    graph_breaks=explanation.graph_break_count,
                    reasons=[str(r.reason) for r in explanation.break_reasons]),
               f'{tmp_dir}/rank{rank}.pth')
    dist.destroy_process_group()


def test_shuffle_bn_on_two_processes_draws_as_mmpretrain_and_compiles_in_one_graph(tmp_path):
    """Shuffle-BN with 2 processes: the same permutation as mmpretrain's
    ``batch_shuffle_ddp`` for the same seed (drawn on the images' device, broadcast there),
    undone exactly, and the loss traced by ``torch.compile`` without a graph break
    (mmengine's ``broadcast`` broke it)."""
    mp.start_processes(_shuffle_bn_rank, args=(str(tmp_path), ), nprocs=WORLD_SIZE,
                       join=True, start_method='fork')
    for rank in range(WORLD_SIZE):
        found = torch.load(tmp_path / f'rank{rank}.pth', weights_only=True)
        assert found['same_as_mmpretrain'] and found['unshuffled'], rank
        assert found['graph_breaks'] == 0, found['reasons']
