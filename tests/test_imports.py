"""What importing the package, and what a downstream config, pulls in (fresh processes)."""
import os.path as osp
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # each test starts a Python process

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_CONFIG = osp.join(REPO, 'configs/benchmarks/mmdetection/coco/mask-rcnn_r50_fpn_ms-1x_coco.py')
SEG_CONFIG = osp.join(
    REPO, 'configs/benchmarks/mmsegmentation/voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')


def run_python(code: str) -> str:
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_import_cgh_mm_imports_and_registers_nothing():
    out = run_python('''
        import sys
        before = set(sys.modules)
        import cgh_mm
        print(' '.join(sorted(set(sys.modules) - before)))
        ''')
    assert out.split() == ['cgh_mm', 'cgh_mm.version']


def test_downstream_configs_load_without_mmpretrain_or_scipy(tmp_path):
    """mmdet's and mmseg's registries find what the benchmark bases name, with mmpretrain
    unimportable; the configs' own imports bring no scipy (mmdet's modules do)."""
    out = run_python(f'''
        import sys
        sys.modules['mmpretrain'] = None  # `import mmpretrain` raises ImportError
        import torch
        from mmengine.config import Config

        det = Config.fromfile({DET_CONFIG!r})  # imports its custom_imports
        seg = Config.fromfile({SEG_CONFIG!r})
        print('scipy' in sys.modules, 'cgh_mm.models' in sys.modules, seg.custom_imports.imports)
        from mmdet.registry import HOOKS, LOOPS
        from mmseg.registry import WEIGHT_INITIALIZERS
        hook = HOOKS.build(det.custom_hooks[0])
        loop = LOOPS.get(det.train_cfg.type)
        init = WEIGHT_INITIALIZERS.build(dict(
            seg.model.backbone.init_cfg, checkpoint={str(tmp_path / 'conv.pth')!r}))
        source, target = torch.nn.Conv2d(3, 4, 1), torch.nn.Conv2d(3, 4, 1)
        torch.save(source.state_dict(), init.checkpoint)
        init(target)
        print(type(hook).__name__, loop.__name__, type(init).__name__,
              torch.equal(target.weight, source.weight))
        ''')
    lines = out.splitlines()  # StrictPretrained logs a line in between
    assert lines[0].split() == ['False', 'False', "['cgh_mm.runtime']"]
    assert lines[-1].split() == [
        'CheckpointGlobalsHook', 'ResumableEpochBasedTrainLoop', 'StrictPretrainedInit', 'True']
