"""Shared pieces of the benchmark-config tests (helpers, not tests)."""
import copy
import glob
import math
import os.path as osp
import uuid
from typing import Iterator, List, Mapping, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from PIL import Image

from tests.helpers import TOOLS, build_cgh, load_tool, raises_stating, save_cgh_checkpoint

convert = load_tool(osp.join(TOOLS, 'model_converters', 'cgh2backbone.py')).convert


def write_backbone_file(tmp_dir, depth: int = 50) -> Tuple[str, Mapping[str, torch.Tensor]]:
    """Save a CGH checkpoint with a ResNet-``depth`` backbone, convert its student backbone
    (openmmlab format) into ``tmp_dir / 'backbone_r{depth}.pth'``; return that path and the
    student backbone weights."""
    torch.manual_seed(0)
    cgh_path = str(tmp_dir / f'cgh_r{depth}.pth')
    state = save_cgh_checkpoint(build_cgh(depth), cgh_path)
    out = str(tmp_dir / f'backbone_r{depth}.pth')
    convert(cgh_path, out)
    return out, {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}


def check_init(module_cfg: dict, registry, backbone_files, allowed_extra: tuple = ()) -> None:
    """Build ``module_cfg`` (its init_cfg pointing at the R50 file), initialise it and check
    that every entry is the checkpoint's; then check that the R18 file is refused."""
    (r50_path, expected), (r18_path, _) = backbone_files[50], backbone_files[18]
    module_cfg = copy.deepcopy(module_cfg)
    module_cfg['init_cfg']['checkpoint'] = r50_path
    # An earlier Runner of another code base leaves its scope as the default.
    with DefaultScope.overwrite_default_scope(registry.scope):
        module = registry.build(module_cfg)
        module.init_weights()
        checked = assert_loaded_from(module, expected, allowed_extra)
        assert checked == len([k for k in module.state_dict() if not k.startswith(allowed_extra)])
        module_cfg['init_cfg']['checkpoint'] = r18_path
        # the file and its misfits, by name: an R18 has no bn3 and thinner layers
        state, r18 = module.state_dict(), backbone_files[18][1]
        missing = sorted(k for k in state if k not in r18 and not k.startswith(allowed_extra))
        reshaped = sorted(k for k in state if k in r18 and r18[k].shape != state[k].shape)
        assert missing[0].endswith('.0.bn3.bias') and reshaped[0].endswith('.0.conv1.weight')
        with raises_stating(ValueError, r18_path, missing[0], reshaped[0]):
            registry.build(module_cfg).init_weights()


def assert_loaded_from(module: nn.Module, expected: Mapping[str, torch.Tensor],
                       allowed_extra: tuple = ()) -> int:
    """Every entry of ``module.state_dict()`` equals ``expected``'s (names not
    starting with ``allowed_extra`` must all be in ``expected``). Returns how many."""
    checked = 0
    for name, value in module.state_dict().items():
        if name.startswith(allowed_extra) and name not in expected:
            continue
        assert name in expected, f'{name} is not in the checkpoint'
        assert torch.equal(value.cpu(), expected[name]), f'{name} differs from the checkpoint'
        checked += 1
    return checked


def random_image(rng: np.random.Generator, height: int, width: int) -> Image.Image:
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def strings_in(obj) -> Iterator[str]:
    """Every string inside a nested config (to look for download URLs)."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from strings_in(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from strings_in(v)


def benchmark_configs(config_dir: str) -> List[str]:
    """The runnable configs under ``config_dir/<dataset>/`` (not the ``_base_`` parts)."""
    return [p for p in sorted(glob.glob(osp.join(config_dir, '*', '*.py')))
            if osp.basename(osp.dirname(p)) != '_base_']


def write_voc_segmentation(root, num_images=2):
    """VOC2012 layout with SegmentationClass and SegmentationClassAug (VOC12aug)."""
    rng = np.random.default_rng(0)
    for sub in ('JPEGImages', 'SegmentationClass', 'SegmentationClassAug',
                'ImageSets/Segmentation'):
        (root / sub).mkdir(parents=True)
    ids = [f'2012_{i:06d}' for i in range(num_images)]
    for img_id in ids:
        random_image(rng, 80, 96).save(root / 'JPEGImages' / f'{img_id}.jpg')
        label = np.zeros((80, 96), dtype=np.uint8)
        label[10:60, 20:70] = rng.integers(1, 21)
        label[60:62] = 255  # VOC's "ignore" border
        for sub in ('SegmentationClass', 'SegmentationClassAug'):
            Image.fromarray(label).save(root / sub / f'{img_id}.png')
    for split in ('train', 'aug'):
        (root / 'ImageSets' / 'Segmentation' / f'{split}.txt').write_text('\n'.join(ids) + '\n')


def train_only(cfg: Config, work_dir: str) -> Config:
    """Batch 2 in the main process, no validation/test, no checkpoint files."""
    cfg.work_dir = work_dir
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    for key in ('val_cfg', 'val_dataloader', 'val_evaluator', 'test_cfg', 'test_dataloader',
                'test_evaluator'):
        cfg[key] = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger.interval = 1
    cfg.launcher = 'none'
    # unique: mmengine keys visualizers by name, and the configs all name theirs 'visualizer'
    cfg.visualizer.name = f'visualizer_{uuid.uuid4().hex}'
    return cfg


def train_two_iterations(runner: Runner) -> None:
    """Run the runner; check it did two finite steps that moved the stem, which
    frozen_stages=-1 (or no freezing) fine-tunes too."""
    stem = runner.model.backbone.conv1.weight
    stem_before = stem.detach().clone()
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    assert not torch.equal(stem, stem_before)
