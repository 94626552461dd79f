"""The launch script end to end on CPU: convert the teacher, torchrun one process,
train an mmseg FCN for two iterations from the converted file."""
import os
import os.path as osp
import subprocess
import sys

import torch

from tests.cgh_checkpoints import build_cgh, save_cgh_checkpoint
from tests.test_benchmarks.runner_utils import write_voc_segmentation

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))
SCRIPT = osp.join(REPO, 'tools', 'benchmarks', 'mmsegmentation', 'dist_train.sh')
CONFIG = osp.join(REPO, 'configs', 'benchmarks', 'mmsegmentation', 'voc12aug',
                  'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')


def small_run_overrides(data_root: str):
    """`--cfg-options` pairs: generated data, 64 px crops, two iterations, BN not
    SyncBN (SyncBN needs GPUs under DDP), no validation, no checkpoint files."""
    pairs = [
        'model.data_preprocessor.size=(64,64)',
        'model.backbone.norm_cfg.type=BN',
        'model.decode_head.norm_cfg.type=BN',
        'model.auxiliary_head.norm_cfg.type=BN',
        'train_dataloader.batch_size=2',
        'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_cfg.max_iters=2',
        'val_cfg=None', 'val_dataloader=None', 'val_evaluator=None',
        'test_cfg=None', 'test_dataloader=None', 'test_evaluator=None',
        'default_hooks.checkpoint=None',
        'default_hooks.logger.interval=1',
    ]
    for i in (0, 1):  # VOC train + SBD aug; pipeline: ..., RandomResize, RandomCrop, ..., Pad
        prefix = f'train_dataloader.dataset.datasets.{i}'
        pairs += [f'{prefix}.data_root={data_root}', f'{prefix}.pipeline.2.scale=(128,64)',
                  f'{prefix}.pipeline.3.crop_size=(64,64)', f'{prefix}.pipeline.6.size=(64,64)']
    return pairs


def test_dist_train_converts_teacher_and_trains(tmp_path):
    torch.manual_seed(0)
    state = save_cgh_checkpoint(build_cgh(50), str(tmp_path / 'cgh_r50.pth'))
    data_root = tmp_path / 'VOCdevkit' / 'VOC2012'
    write_voc_segmentation(data_root)
    work_dir = tmp_path / 'work'

    env = dict(os.environ, CONVERT_ARGS='--teacher', WORK_DIR=str(work_dir), PORT='29631',
               PATH=osp.dirname(sys.executable) + os.pathsep + os.environ['PATH'])
    result = subprocess.run(
        ['bash', SCRIPT, CONFIG, str(tmp_path / 'cgh_r50.pth'), '1',
         *small_run_overrides(str(data_root))],
        env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=600)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-4000:]

    backbone = torch.load(work_dir / 'backbone.pth', weights_only=True)
    teacher = {k[len('teacher.module.backbone.'):]: v for k, v in state.items()
               if k.startswith('teacher.module.backbone.')}
    assert set(backbone['state_dict']) == set(teacher)
    assert all(torch.equal(backbone['state_dict'][k], v) for k, v in teacher.items())
    assert f'from path: {work_dir / "backbone.pth"}' in log  # the runner loaded that file
    assert 'Iter(train) [2/2]' in log
