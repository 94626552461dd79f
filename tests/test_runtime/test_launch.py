"""cgh_mm/runtime/launch.py: what tools/train.py and tools/test.py do around a Runner."""
import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from mmengine.config import Config

from cgh_mm.runtime.launch import destroy_distributed, find_sync_bn, prepare_cpu_distributed
from tests.helpers import SYNTHETIC_CONFIG, raises_stating
from tests.test_tools.dist_helpers import REPO


def test_sync_bn_on_cpu_is_refused_with_the_fix(monkeypatch):
    cfg = Config.fromfile(SYNTHETIC_CONFIG)
    cfg.model.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    assert find_sync_bn(cfg) == ['model.backbone.norm_cfg.type']
    for key, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='1').items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with raises_stating(RuntimeError, 'SyncBN', '--cfg-options model.backbone.norm_cfg.type=BN'):
        prepare_cpu_distributed(cfg, 'pytorch')


def test_find_sync_bn_sees_runner_option_and_lists():
    cfg = dict(sync_bn='torch', model=dict(
        necks=[dict(norm_cfg=dict(type='BN')), dict(norm_cfg=dict(type='SyncBN'))],
        head=dict(norm_cfg=dict(type='SyncBatchNorm'))))
    assert find_sync_bn(cfg) == ['sync_bn', 'model.necks.1.norm_cfg.type',
                                 'model.head.norm_cfg.type']
    assert find_sync_bn(dict(model=dict(norm_cfg=dict(type='BN')))) == []


def thread_count() -> int:
    return len(os.listdir('/proc/self/task'))


@pytest.mark.skipif(not os.path.isdir('/proc/self/task'), reason='counts threads in /proc')
def test_destroy_distributed_joins_the_threads_of_a_group_held_in_a_cycle():
    # A Runner holds the process group through its DDP wrapper, in reference cycles. Left to
    # the interpreter's exit, a gloo thread that still frees a collective's tensors dies
    # taking the GIL, and the finished run aborts (SIGABRT): the group's threads must be
    # joined before the exit.
    assert not dist.is_initialized()
    torch.ones(1).add_(1)
    before = thread_count()
    dist.init_process_group('gloo', store=dist.HashStore(), rank=0, world_size=1)
    runner_like = [dist.group.WORLD]
    runner_like.append(runner_like)
    dist.broadcast(torch.ones(2), 0)
    assert thread_count() > before
    del runner_like
    destroy_distributed()
    assert not dist.is_initialized()
    assert thread_count() == before


@pytest.mark.slow
@pytest.mark.parametrize('tool', ['tools/analysis/param_count.py',
                                  'tools/analysis/knn_eval.py',
                                  'tools/analysis/cluster_eval.py',
                                  'tools/analysis/visualize_relations.py'])
def test_every_tool_refuses_cfg_options_whose_spaces_mmengine_would_drop(tool):
    # a relative data_root with a space would fail later as `myimgs/`
    proc = subprocess.run(
        [sys.executable, str(REPO / tool), 'any_config.py', '--cfg-options',
         'train_dataloader.dataset.data_root=my imgs'],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # argparse's usage error
    assert "'myimgs'" in proc.stderr and 'ln -s' in proc.stderr
