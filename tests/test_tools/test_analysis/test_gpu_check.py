"""tools/analysis/gpu_check.py: its refusal on CPU, and its measurements run on CPU with a
tiny model (the full run needs CUDA: the last test, skipped without a GPU)."""
import importlib
import sys

import pytest
import torch
from mmengine.registry import init_default_scope

from tests.helpers import tiny_cgh_cfg

from ..dist_helpers import REPO

TOOL = REPO / 'tools' / 'analysis' / 'gpu_check.py'


def load_tool():
    # imported by name, as its spawned rank processes import it
    if str(TOOL.parent) not in sys.path:
        sys.path.insert(0, str(TOOL.parent))
    return importlib.import_module('gpu_check')


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the refusal without CUDA')
def test_without_cuda_it_says_it_needs_cuda_and_what_to_run_instead():
    with pytest.raises(SystemExit) as exit_info:
        load_tool().main([])
    message = str(exit_info.value.code)
    assert 'needs a CUDA GPU' in message and torch.__version__ in message
    assert 'tools/analysis/benchmark.py --device cpu' in message


def test_step_measurements_on_cpu():
    tool = load_tool()
    init_default_scope('mmpretrain')
    cgh = dict(tiny_cgh_cfg(base_channels=16, queue_len=64),
               data_preprocessor=dict(type='SelfSupDataPreprocessor', mean=[0.0] * 3,
                                      std=[1.0] * 3))
    classifier = dict(tool.model_configs(64)['backbone'],
                      backbone=dict(type='ResNet', depth=18, base_channels=16, stem_channels=16,
                                    out_indices=(3, )))
    classifier['head'] = dict(classifier['head'], in_channels=128)
    for cfg in (cgh, classifier):
        rate, peak = tool.measure(lambda c=cfg: tool.build_step(c, 4, 32, 'cpu'), 4, 'cpu',
                                  warmup=1, steps=2)
        assert rate > 0 and peak is None  # peak memory is measured on CUDA only
    batch, rate, _ = tool.largest_batch(
        lambda b: tool.build_step(cgh, b, 32, 'cpu'), start=4, limit=16, device='cpu')
    assert batch == 16 and rate > 0  # nothing runs out of memory here: the limit is taken


def test_model_configs_share_the_backbone_and_queue_length():
    cfgs = load_tool().model_configs(4096)
    assert cfgs['CGH']['queue_len'] == cfgs['MoCo']['queue_len'] == 4096
    assert cfgs['MoCo']['data_preprocessor'] == cfgs['CGH']['data_preprocessor']
    assert cfgs['backbone']['backbone']['depth'] == cfgs['CGH']['backbone']['depth'] == 50


def test_relation_errors_under_cpu_autocast():
    init_default_scope('mmpretrain')
    errors = load_tool().relation_errors('cpu', torch.bfloat16, batch=8, feat_dim=64,
                                         queue_len=4096)
    assert errors['loss'] <= 1e-6 and errors['target'] <= 1e-6
    assert errors['plain product'] > 1e-3  # what float32 relations avoid


@pytest.mark.slow
def test_loader_throughput_on_generated_jpegs():
    init_default_scope('mmpretrain')
    assert load_tool().loader_samples_per_s(None, batches=2, num_workers=0) > 0


@pytest.mark.slow
def test_queues_agree_across_two_gloo_ranks():
    cfg = tiny_cgh_cfg(base_channels=16, queue_len=64)
    result = load_tool().rank_agreement(2, cfg, batch=4, resolution=32, steps=2,
                                        backend='gloo')
    # 2 steps x 2 ranks x 4 images written; queues, pointer and teacher equal everywhere
    assert result == dict(ptr=16, max_diff=0.0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU')
def test_full_check_on_a_gpu(capsys):
    load_tool().main(['--steps', '2', '--max-batch', '64', '--loader-batches', '2'])
    out = capsys.readouterr().out
    assert 'CGH/MoCo img/s' in out and 'samples/s' in out and 'AMP bfloat16' in out
