"""2 CPU processes (gloo) with kNN validation every epoch: a resume after a validation pass
continues exactly as the uninterrupted run, and validates the same model.

The checkpoint is written before the validation that follows it; if validation drew from
the random generators (each data loader iterator draws a seed from torch's), the
uninterrupted run would carry on from other states than the resumed one, and shuffle-BN's
permutation (2 processes) would differ. And the checkpoint holds rank 0's BN running
statistics, which rank 1 (DDP without buffer broadcast) would otherwise not validate with.
"""
import json
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.hooks import Hook
from mmengine.runner import Runner

from cgh_mm.runtime.launch import prepare_cpu_distributed
from tests.helpers import tiny_runner_cfg

pytestmark = pytest.mark.slow

WORLD_SIZE = 2


def _loader(num_images: int, seed: int) -> dict:
    return dict(batch_size=8, num_workers=0, drop_last=False,
                sampler=dict(type='DefaultSampler', shuffle=False),
                collate_fn=dict(type='default_collate'),
                dataset=dict(type='SyntheticImageDataset', num_images=num_images, image_size=32,
                             num_classes=4, seed=seed, pipeline=[dict(type='PackInputs')]))


def dist_cfg(work_dir, resume_from: str = ''):
    """3 epochs of 2 iterations (2 processes x 8 of 32 images), kNN validation and a
    checkpoint after every epoch, shuffle-BN on, deterministic."""
    cfg = tiny_runner_cfg(work_dir, max_epochs=3)
    cfg.train_dataloader.batch_size = 8
    cfg.randomness = dict(seed=0, deterministic=True)
    cfg.launcher = 'pytorch'
    cfg.val_dataloader = _loader(16, seed=1)
    cfg.val_evaluator = dict(type='WeightedKNNAccuracy', k=5)
    cfg.val_cfg = dict(type='KNNValLoop', memory_dataloader=_loader(16, seed=2))
    if resume_from:
        cfg.resume, cfg.load_from = True, resume_from
    return cfg


class _Record(Hook):
    """The losses of every iteration and the kNN accuracy of every validation, by step."""

    def __init__(self) -> None:
        self.log = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.log[f'iter {runner.iter + 1}'] = {
            k: float(v) for k, v in outputs.items() if k.startswith('loss')}

    def after_val_epoch(self, runner, metrics=None) -> None:
        memory = runner.val_loop._knn_metrics[0].memory  # gathered on rank 0 only
        if memory is not None:
            sums = memory[0].sum(0)[:16].tolist()  # of the memory bank's first 16 dims
            self.log[f'epoch {runner.epoch}'] = dict(
                metrics, **{f'memory feature sum {i}': v for i, v in enumerate(sums)})


def _train_then_resume(rank: int, tmp_dir: str, cfgs: list) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT='1')  # the group exists already
    dist.init_process_group('gloo', init_method=f'file://{tmp_dir}/init', rank=rank,
                            world_size=WORLD_SIZE)
    torch.set_num_threads(1)  # the same arithmetic in both runs
    for name, cfg in cfgs:
        prepare_cpu_distributed(cfg, 'pytorch')
        runner = Runner.from_cfg(cfg)
        record = _Record()
        runner.register_hook(record, priority='LOWEST')
        runner.train()
        if rank == 0:
            with open(f'{tmp_dir}/{name}.json', 'w') as f:
                json.dump(record.log, f)
    dist.destroy_process_group()


def test_resume_after_validation_with_two_processes_is_exact(tmp_path):
    cfgs = [('uninterrupted', dist_cfg(tmp_path / 'uninterrupted')),
            ('resumed', dist_cfg(tmp_path / 'resumed',
                                 str(tmp_path / 'uninterrupted' / 'epoch_1.pth')))]
    # fork: spawned children would re-import the whole stack (most of the test's time)
    mp.start_processes(_train_then_resume, args=(str(tmp_path), cfgs), nprocs=WORLD_SIZE,
                       join=True, start_method='fork')
    expected = json.loads((tmp_path / 'uninterrupted.json').read_text())
    got = json.loads((tmp_path / 'resumed.json').read_text())
    assert list(got) == ['iter 3', 'iter 4', 'epoch 2', 'iter 5', 'iter 6', 'epoch 3']
    for step, values in got.items():
        assert values == pytest.approx(expected[step], abs=1e-6), step
