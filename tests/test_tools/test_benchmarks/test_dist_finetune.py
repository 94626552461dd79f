"""The fine-tuning launch script: end to end on CPU (convert the teacher, torchrun one
process, train an mmseg FCN for two iterations from the converted file), and how it
passes the backbone path through mmengine's --cfg-options, which deletes spaces."""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.helpers import build_cgh, save_cgh_checkpoint
from tests.test_benchmarks.runner_utils import write_voc_segmentation

from ..dist_helpers import free_port, write_stub

pytestmark = pytest.mark.slow

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

    env = dict(os.environ, CONVERT_ARGS='--teacher', WORK_DIR=str(work_dir), PORT=str(free_port()),
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
    # the runner loaded that file, named relative to the current folder
    assert 'from path: work/backbone.pth' in log
    assert 'Iter(train) [2/2]' in log


def test_backbone_path_with_spaces_is_made_relative_or_refused(tmp_path):
    cwd = tmp_path / 'my runs'
    cwd.mkdir()
    python = write_stub(tmp_path / 'python')
    env = dict(os.environ, PYTHON=str(python), CALLS=str(tmp_path / 'calls.txt'))

    env['WORK_DIR'] = str(cwd / 'fcn')  # absolute, below the current folder
    subprocess.run(['bash', SCRIPT, CONFIG, 'cgh.pth', '1'], cwd=cwd, env=env, check=True,
                   capture_output=True, timeout=60)
    calls = (tmp_path / 'calls.txt').read_text()
    assert '\ncgh.pth\nfcn/backbone.pth\n--format\nopenmmlab\n' in calls
    assert '\n--cfg-options\nmodel.backbone.init_cfg.checkpoint=fcn/backbone.pth\n' in calls

    env['WORK_DIR'] = str(tmp_path / 'fcn runs')  # outside the current folder
    proc = subprocess.run(['bash', SCRIPT, CONFIG, 'cgh.pth', '1'], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and 'WORK_DIR' in proc.stderr and 'spaces' in proc.stderr
    assert f'{tmp_path}/fcn runs/backbone.pth' in proc.stderr
