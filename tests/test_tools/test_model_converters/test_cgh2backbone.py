"""The converter on a CGH checkpoint with a ResNet-50 backbone, checked against
torchvision's ResNet-50 and an independently derived detectron2 layout."""
import errno
import os.path as osp
import pickle

import pytest
import torch
import torchvision

import cgh_mm.runtime.checkpoint as checkpoint_module
from cgh_mm.evaluation import pooled_backbone_features
from tests.helpers import TOOLS, build_cgh, load_tool, raises_stating, save_cgh_checkpoint

main = load_tool(osp.join(TOOLS, 'model_converters', 'cgh2backbone.py')).main


@pytest.fixture(scope='module')
def cgh50(tmp_path_factory):
    """(CGH model, its state dict, checkpoint path) with a ResNet-50 backbone."""
    torch.manual_seed(0)
    model = build_cgh(50)
    path = tmp_path_factory.mktemp('cgh') / 'cgh_r50.pth'
    return model, save_cgh_checkpoint(model, str(path)), str(path)


def detectron2_r50_shapes():
    """Detectron2 R-50 parameter names and shapes, from the architecture itself."""
    shapes = {'stem.conv1.weight': (64, 3, 7, 7)}
    norm = ('weight', 'bias', 'running_mean', 'running_var')
    shapes.update({f'stem.conv1.norm.{e}': (64, ) for e in norm})
    in_ch = 64
    for res, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512)), start=2):
        out_ch = width * 4
        for b in range(blocks):
            convs = {'conv1': (width, in_ch, 1, 1), 'conv2': (width, width, 3, 3),
                     'conv3': (out_ch, width, 1, 1)}
            if b == 0:
                convs['shortcut'] = (out_ch, in_ch, 1, 1)
            for conv, shape in convs.items():
                shapes[f'res{res}.{b}.{conv}.weight'] = shape
                shapes.update({f'res{res}.{b}.{conv}.norm.{e}': (shape[0], ) for e in norm})
            in_ch = out_ch
    return shapes


@pytest.mark.parametrize('teacher', [False, True])
def test_openmmlab_format(cgh50, tmp_path, teacher):
    _, state, path = cgh50
    out = tmp_path / 'backbone.pth'
    main([path, str(out)] + (['--teacher'] if teacher else []))
    saved = torch.load(out, map_location='cpu', weights_only=True)
    prefix = 'teacher.module.backbone.' if teacher else 'backbone.'
    expected = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    assert set(saved['state_dict']) == set(expected)
    for name, value in expected.items():
        assert torch.equal(saved['state_dict'][name], value), name
    assert saved['meta']['branch'] == ('teacher' if teacher else 'student')


def test_torchvision_export_matches_our_backbone(cgh50, tmp_path):
    model, _, path = cgh50
    out = tmp_path / 'resnet50_tv.pth'
    main([path, str(out), '--format', 'torchvision'])
    resnet = torchvision.models.resnet50()
    result = resnet.load_state_dict(torch.load(out, weights_only=True), strict=False)
    assert sorted(result.missing_keys) == ['fc.bias', 'fc.weight']
    assert result.unexpected_keys == []

    resnet.fc = torch.nn.Identity()
    resnet.eval()
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        theirs = torch.nn.functional.normalize(resnet(images), dim=1)
    model.backbone.eval()  # mmpretrain's ResNet.train() returns None: no chaining
    ours = pooled_backbone_features(model.backbone, images)
    torch.testing.assert_close(theirs, ours, rtol=1e-4, atol=1e-5)


def test_detectron2_export_layout(cgh50, tmp_path):
    _, state, path = cgh50
    out = tmp_path / 'r50.pkl'
    main([path, str(out), '--format', 'detectron2', '--teacher'])
    with open(out, 'rb') as f:
        ckpt = pickle.load(f)
    assert ckpt['matching_heuristics'] is True
    assert isinstance(ckpt['__author__'], str)
    expected = detectron2_r50_shapes()
    assert {k: tuple(v.shape) for k, v in ckpt['model'].items()} == expected
    torch.testing.assert_close(
        torch.from_numpy(ckpt['model']['res5.0.shortcut.norm.running_var']),
        state['teacher.module.backbone.layer4.0.downsample.1.running_var'], rtol=0, atol=0)


def test_unknown_format_lists_valid_ones(cgh50, tmp_path):
    with raises_stating(SystemExit, 'caffe', 'openmmlab', 'torchvision', 'detectron2'):
        main([cgh50[2], str(tmp_path / 'x.pth'), '--format', 'caffe'])
    assert not (tmp_path / 'x.pth').exists()


def test_not_a_cgh_checkpoint(tmp_path):
    path = tmp_path / 'classifier.pth'
    torch.save({'state_dict': {'head.fc.weight': torch.zeros(2, 2)}, 'meta': {}}, path)
    with raises_stating(SystemExit, "'backbone.'", "['head']"):
        main([str(path), str(tmp_path / 'out.pth')])
    json_file = tmp_path / 'log.json'
    json_file.write_text('{"loss": 1.0}')
    with raises_stating(SystemExit, 'log.json', 'JSON'):
        main([str(json_file), str(tmp_path / 'out.pth')])
    assert not (tmp_path / 'out.pth').exists()


def test_the_input_is_never_overwritten(cgh50, tmp_path):
    _, _, path = cgh50
    before = open(path, 'rb').read()
    link = tmp_path / 'link.pth'
    link.symlink_to(path)
    for output in (path, str(link), osp.join(osp.dirname(path), '.', osp.basename(path))):
        with raises_stating(SystemExit, output, 'input checkpoint'):
            main([path, output, '--format', 'detectron2'])
    assert open(path, 'rb').read() == before


@pytest.mark.parametrize('fmt', ['openmmlab', 'detectron2'])
def test_full_disk_leaves_the_old_output_and_no_partial_file(cgh50, tmp_path, monkeypatch,
                                                             fmt):
    out = tmp_path / 'backbone.out'
    out.write_bytes(b'previous backbone')

    def no_space(fd):
        raise OSError(errno.ENOSPC, 'No space left on device')

    monkeypatch.setattr(checkpoint_module.os, 'fsync', no_space)
    with raises_stating(SystemExit, out, 'No space left on device', 'MiB'):
        main([cgh50[2], str(out), '--format', fmt])
    assert sorted(p.name for p in tmp_path.iterdir()) == ['backbone.out']
    assert out.read_bytes() == b'previous backbone'
