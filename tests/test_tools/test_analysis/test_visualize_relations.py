"""tools/analysis/visualize_relations.py on checkpoints of a tiny CGH."""
import json

import mmcv
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

from tests.helpers import load_tool, raises_stating, run_tool

from ..dist_helpers import REPO, TINY_CONFIG

TOOL = REPO / 'tools' / 'analysis' / 'visualize_relations.py'
CFG_OPTIONS = ['model.queue_len=64', 'model.feat_dim=32', 'model.neck.out_channels=32',
               'model.hypercolumn_neck.out_channels=32']


@pytest.fixture
def checkpoints(tmp_path):
    """Two mmengine-style checkpoints of one tiny CGH, the second with a changed queue."""
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.model.queue_len, cfg.model.feat_dim = 64, 32
    cfg.model.neck.out_channels = cfg.model.hypercolumn_neck.out_channels = 32
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    paths = []
    for step in (2, 4):
        path = tmp_path / f'iter_{step}.pth'
        torch.save(dict(meta=dict(iter=step), state_dict=model.state_dict()), path)
        paths.append(str(path))
        model.global_queue.copy_(model.hypercolumn_queue)  # the contexts now share a queue
    return paths


def test_plots_from_image_folder_and_over_training(tmp_path, checkpoints):
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        mmcv.imwrite(rng.integers(0, 255, (40, 48, 3), dtype=np.uint8), str(folder / f'{i}.png'))
    out_dir = tmp_path / 'out'
    out = run_tool(TOOL, *[
        str(TINY_CONFIG), '--checkpoints', *checkpoints, '--images', str(folder),
        '--image-size', '32', '--topk', '5', '--out-dir', str(out_dir),
        '--cfg-options', *CFG_OPTIONS])
    pngs = ['relations_iter_2.png', 'agreement_iter_2.png', 'relations_iter_4.png',
            'agreement_iter_4.png', 'agreement_over_training.png']
    for name in pngs:
        path = out_dir / name
        assert path.stat().st_size > 1000, name
        assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
        assert str(path) in out
    summary = json.loads((out_dir / 'agreement.json').read_text())
    first, second = summary['checkpoints']
    assert [first['step'], second['step']] == [2, 4]
    assert len(first['kl']) == 3 and len(first['overlap']) == 3
    assert all(0.0 <= v <= 1.0 for v in first['overlap'])
    assert all(v >= 0.0 for v in first['kl'])
    # different checkpoints give different relations
    assert first['kl'] != second['kl']


def test_dataset_source_and_bad_checkpoint(tmp_path, checkpoints):
    out_dir = tmp_path / 'out'
    out = run_tool(TOOL, *[
        str(TINY_CONFIG), '--checkpoints', checkpoints[0], '--dataset', '--num-images', '2',
        '--image-size', '32', '--out-dir', str(out_dir), '--cfg-options', *CFG_OPTIONS])
    assert (out_dir / 'relations_iter_2.png').stat().st_size > 1000
    assert not (out_dir / 'agreement_over_training.png').exists()
    assert 'mean KL' in out
    # a checkpoint of another model is refused with the reason
    with raises_stating(ValueError, 'iter_2.pth', 'global_queue (64, 32) vs (64, 128)'):
        run_tool(TOOL, *[
            str(TINY_CONFIG), '--checkpoints', checkpoints[0], '--dataset',
            '--out-dir', str(out_dir)])


def test_relations_are_the_teachers_over_the_queue_slots():
    """The preprocessing is the config's (BGR -> RGB, mean/std), the teacher embeds, and
    the queues are read one row per slot: an image whose embedding fills slot j relates
    most to slot j."""
    tool = load_tool(TOOL)
    cfg = Config.fromfile(str(TINY_CONFIG))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model).eval()
    with torch.no_grad():
        for p in model.teacher.module.parameters():  # a teacher that lags the student
            p.add_(0.05 * torch.randn_like(p))
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (32, 32, 3), dtype=np.uint8) for _ in range(3)]
    rgb = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)[:, [2, 1, 0]].float()
    mean = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)
    with torch.no_grad():
        embeddings = model.embed((rgb - mean) / std, teacher=True)
        student = model.embed((rgb - mean) / std)
    assert not torch.allclose(embeddings[0], student[0])  # the teacher's, not the student's
    slots = torch.tensor([5, 0, 9])
    for queue, emb in zip((model.global_queue, model.hypercolumn_queue), embeddings):
        queue[slots] = emb
    relations = tool.teacher_relations(model, images)
    temps = (model.head.teacher_global_temp, model.head.teacher_hypercolumn_temp)
    for rel, emb, queue, temp in zip(relations, embeddings,
                                     (model.global_queue, model.hypercolumn_queue), temps):
        assert rel.shape == (3, 64)
        torch.testing.assert_close(rel, torch.softmax(emb @ queue.T / temp, dim=1))
        assert torch.equal(rel.argmax(dim=1), slots)


GLOBAL_OPTIONS = ['model.queue_len=64', 'model.feat_dim=32', 'model.neck.out_channels=32',
                  'model.hypercolumn_neck=None', 'model.head.teaching=global',
                  'model.backbone.out_indices=(3,)']


def test_global_only_checkpoints_show_their_global_relations(tmp_path):
    """teaching='global' builds no hypercolumn branch: the global relations are drawn,
    and no agreement is made up for a context the model does not have."""
    cfg = Config.fromfile(str(TINY_CONFIG))
    cfg.model.queue_len, cfg.model.feat_dim = 64, 32
    cfg.model.neck.out_channels = 32
    cfg.model.hypercolumn_neck, cfg.model.head.teaching = None, 'global'
    cfg.model.backbone.out_indices = (3, )
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    assert model.hypercolumn_queue is None
    checkpoints = []
    for step in (2, 4):
        checkpoints.append(str(tmp_path / f'iter_{step}.pth'))
        torch.save(dict(meta=dict(iter=step), state_dict=model.state_dict()), checkpoints[-1])
        model.global_queue.copy_(torch.nn.functional.normalize(
            torch.randn_like(model.global_queue), dim=1))
    out_dir = tmp_path / 'out'
    out = run_tool(TOOL, *[
        str(TINY_CONFIG), '--checkpoints', *checkpoints, '--dataset', '--num-images', '2',
        '--image-size', '32', '--out-dir', str(out_dir), '--cfg-options', *GLOBAL_OPTIONS])
    for step in (2, 4):
        png = out_dir / f'relations_iter_{step}.png'
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' and str(png) in out
        assert not (out_dir / f'agreement_iter_{step}.png').exists()
    assert not (out_dir / 'agreement_over_training.png').exists()
    assert "teaching='global'" in out
    summary = json.loads((out_dir / 'agreement.json').read_text())
    assert summary['contexts'] == ['global']
    first, second = summary['checkpoints']
    assert first['kl'] is None and first['overlap'] is None
    # what the global relation shows: its largest probability per image, of each queue
    assert len(first['global_max']) == 2 and all(0 < v <= 1 for v in first['global_max'])
    assert first['global_max'] != second['global_max']

    tool = load_tool(TOOL)
    images = [np.zeros((32, 32, 3), np.uint8), np.full((32, 32, 3), 200, np.uint8)]
    relations = tool.teacher_relations(model.eval(), images)
    assert relations[1] is None and relations[0].shape == (2, 64)
    torch.testing.assert_close(relations[0].sum(dim=1), torch.ones(2))
