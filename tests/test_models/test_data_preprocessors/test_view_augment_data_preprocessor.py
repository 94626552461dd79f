"""ViewAugmentDataPreprocessor against the CPU transforms it replaces.

Per op: one deterministic case equal to the CPU transform pixel for pixel, and the
distribution of its random parameters; end to end: the distribution of output pixel
statistics of the strong view's colour pipeline. Every case runs the code a training step
runs: an augmentation's encode and apply on parameters moved as ``forward`` moves them, or
``forward`` itself. Where a plausible bug (another op
order, another blur kernel size) would still look fine, the test also runs that bug
and checks that it fails.
"""
import random
from unittest.mock import patch

import numpy as np
import pytest
import torch
from mmcv.transforms import Compose, RandomGrayscale
from mmpretrain.datasets.transforms import ColorJitter, GaussianBlur, Solarize
from mmpretrain.models.utils import SelfSupDataPreprocessor
from scipy import stats
from sklearn.datasets import load_sample_images
from torch._subclasses.fake_tensor import FakeTensorMode, unset_fake_temporarily

from cgh_mm.models.data_preprocessors import (
    BatchColorJitter,
    BatchGaussianBlur,
    BatchRandomGrayscale,
    BatchSolarize,
    ViewAugmentDataPreprocessor,
)
from cgh_mm.models.data_preprocessors import batch_colour_ops as ops
from cgh_mm.models.data_preprocessors.view_augment_data_preprocessor import encoded_to_device
from tests.helpers import CountOps, HostSyncs, raises_stating

JITTER = dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
GREY_WEIGHTS = (0.114, 0.587, 0.2989)  # BGR, as in the configs
STRONG_COLOUR = [
    dict(type='ColorJitter', **JITTER, prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, channel_weights=GREY_WEIGHTS),
    dict(type='GaussianBlur', sigma_range=(0.1, 2.0), prob=0.5),
]
CPU_STRONG_COLOUR = [
    dict(type='RandomApply', transforms=[dict(type='ColorJitter', **JITTER)], prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True, channel_weights=GREY_WEIGHTS),
    dict(type='GaussianBlur', magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5),
]
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], to_rgb=True)


@pytest.fixture(scope='module')
def photo_bgr():
    """A 40x48 BGR uint8 crop of a real photo (colourful, with edges)."""
    return np.ascontiguousarray(load_sample_images().images[1][200:240, 260:308, ::-1])


def to_batch(img_bgr: np.ndarray, copies: int = 1) -> torch.Tensor:
    """HWC BGR uint8 -> (copies, 3, H, W) float RGB, as the preprocessor's ops see it."""
    rgb = torch.from_numpy(np.ascontiguousarray(img_bgr[..., ::-1])).permute(2, 0, 1).float()
    return rgb[None].repeat(copies, 1, 1, 1)


def to_bgr(batch: torch.Tensor, i: int = 0) -> np.ndarray:
    return batch[i].permute(1, 2, 0).numpy()[..., ::-1].astype(np.uint8)


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(int) - b.astype(int)).max())


def cpu(transform, img: np.ndarray) -> np.ndarray:
    return transform(dict(img=img.copy()))['img']


def augmented(augment, images: torch.Tensor, params: dict) -> torch.Tensor:
    """``images`` (RGB) augmented by ``augment`` with the drawn ``params`` (CPU tensors) as
    ``forward`` does it: encoded, moved to the images' device in one copy, applied."""
    return augment.apply(images, encoded_to_device([[augment.encode(params)]], images.device)[0][0])


def jitter_one_op(images: torch.Tensor, op: str, factor: float) -> torch.Tensor:
    """``images`` (one sample, RGB) through a ``BatchColorJitter`` whose only op is ``op``
    (``'brightness'``, ...), with ``factor``."""
    index = getattr(BatchColorJitter, op.upper())
    factors = torch.zeros(1, 4, dtype=torch.float64)
    factors[0, index] = factor
    order = torch.tensor([[index, *(i for i in range(4) if i != index)]])
    return augmented(BatchColorJitter(**{op: JITTER[op]}), images,
                     dict(apply=torch.tensor([True]), order=order, factors=factors))


def train_forward(preprocessor: ViewAugmentDataPreprocessor, view: torch.Tensor) -> torch.Tensor:
    """One view (uint8, loader's channel order) through the training ``forward`` of a
    preprocessor of one view pipeline that does not normalise: the augmented view as float
    whole numbers, in the loader's channel order."""
    return preprocessor(dict(inputs=[view], data_samples=None), training=True)['inputs'][0]


# ---------------------------------------------------------------- one case per op

@pytest.mark.parametrize('order', [(0, 1, 2, 3), (3, 2, 1, 0), (2, 0, 3, 1)])
def test_colour_jitter_equals_the_cpu_transform_for_a_given_order(photo_bgr, order):
    factors = (1.4, 0.65, 1.35, 0.09)  # strong enough that clipping makes order matter
    jitter = ColorJitter(**JITTER)
    with patch.object(ColorJitter, '_rand_params',
                      return_value=(np.array(order), *factors)):
        expected = cpu(jitter, photo_bgr)
    params = dict(apply=torch.tensor([True]), order=torch.tensor([order]),
                  factors=torch.tensor([factors], dtype=torch.float64))
    got = to_bgr(augmented(BatchColorJitter(**JITTER), to_batch(photo_bgr), params))
    assert max_diff(got, expected) == 0
    # The check sees order: the reversed order is off by more than rounding.
    params['order'] = torch.tensor([order[::-1]])
    wrong = to_bgr(augmented(BatchColorJitter(**JITTER), to_batch(photo_bgr), params))
    assert max_diff(wrong, expected) > 1


@pytest.mark.parametrize('op, factor', [('brightness', 0.63), ('contrast', 1.31),
                                        ('saturation', 0.7), ('hue', -0.08), ('hue', 0.1)])
def test_each_jitter_op_equals_the_cpu_transform(photo_bgr, op, factor):
    index = getattr(BatchColorJitter, op.upper())
    factors = [None] * 4
    factors[index] = factor
    with patch.object(ColorJitter, '_rand_params', return_value=(np.array([index]), *factors)):
        expected = cpu(ColorJitter(**JITTER), photo_bgr)
    got = to_bgr(jitter_one_op(to_batch(photo_bgr), op, factor))
    assert max_diff(got, expected) == 0 and max_diff(got, photo_bgr) > 1


@pytest.mark.parametrize('hue_factor', [-0.1, -0.031, 0.004, 0.05, 0.1])
def test_hue_equals_the_cpu_transform_on_every_colour_level(hue_factor):
    """Pillow's 8-bit HSV round trip on every third level of each channel (86**3 colours,
    greys, black and white included), not only on one photo's colours."""
    levels = np.arange(0, 256, 3, dtype=np.uint8)
    colours = np.stack(np.meshgrid(levels, levels, levels, indexing='ij'), -1).reshape(-1, 3)
    img_bgr = np.ascontiguousarray(colours.reshape(len(levels) ** 2, len(levels), 3))
    with patch.object(ColorJitter, '_rand_params',
                      return_value=(np.array([3]), None, None, None, hue_factor)):
        expected = cpu(ColorJitter(**JITTER), img_bgr)
    got = to_bgr(jitter_one_op(to_batch(img_bgr), 'hue', hue_factor))
    assert max_diff(got, expected) == 0


def test_grayscale_equals_the_cpu_transform(photo_bgr):
    expected = cpu(RandomGrayscale(prob=1.0, keep_channels=True, channel_weights=GREY_WEIGHTS),
                   photo_bgr)
    apply = dict(apply=torch.tensor([True]))
    grey = BatchRandomGrayscale(prob=1.0, channel_weights=GREY_WEIGHTS)
    got = to_bgr(augmented(grey, to_batch(photo_bgr), apply))
    assert max_diff(got, expected) == 0
    # channel_weights are in BGR order: applying them to RGB would be a visible error
    wrong = BatchRandomGrayscale(prob=1.0, channel_weights=GREY_WEIGHTS, input_is_bgr=False)
    assert max_diff(to_bgr(augmented(wrong, to_batch(photo_bgr), apply)), expected) > 1


@pytest.mark.parametrize('sigma', [0.1, 0.45, 1.0, 1.7, 2.0])
def test_blur_equals_the_cpu_transform(photo_bgr, sigma):
    """The recipe's sigma range: every kernel as wide as the widest it allows (sigma 2),
    a narrower one padded with zero taps."""
    expected = cpu(GaussianBlur(radius=sigma, prob=1.0), photo_bgr)
    params = dict(apply=torch.tensor([True]), sigma=torch.tensor([sigma], dtype=torch.float64))
    got = to_bgr(augmented(BatchGaussianBlur(sigma_range=(0.1, 2.0), prob=1.0),
                           to_batch(photo_bgr), params))
    assert max_diff(got, expected) == 0


def test_blur_check_sees_the_kernel_size(photo_bgr):
    """A true Gaussian of the same sigma on a torchvision-style kernel (SimCLR's 23 px, or
    the usual 2 * ceil(3 sigma) + 1) is not Pillow's box approximation: off by more
    than rounding, so the equality above would catch it."""
    from torchvision.transforms.functional import gaussian_blur as tv_blur

    sigma = 1.5
    expected = cpu(GaussianBlur(radius=sigma, prob=1.0), photo_bgr)
    for kernel in (23, 2 * int(np.ceil(3 * sigma)) + 1):
        wrong = tv_blur(to_batch(photo_bgr), [kernel, kernel], [sigma, sigma]).round()
        assert max_diff(to_bgr(wrong), expected) > 1


def test_solarize_equals_the_cpu_transform(photo_bgr):
    expected = cpu(Solarize(thr=128, prob=1.0), photo_bgr)
    got = to_bgr(augmented(BatchSolarize(thr=128, prob=1.0), to_batch(photo_bgr),
                           dict(apply=torch.tensor([True]))))
    assert max_diff(got, expected) == 0 and max_diff(got, photo_bgr) > 100


def _cpu_view(photo_bgr: np.ndarray, jitter: dict, sigma: float, grey_first: bool = False):
    """The CPU strong-view colour pipeline with every op on and the given draws."""
    order, factors = jitter['order'].numpy(), jitter['factors'].numpy().tolist()
    ops_in_order = [ColorJitter(**JITTER),
                    RandomGrayscale(prob=1.0, keep_channels=True, channel_weights=GREY_WEIGHTS)]
    if grey_first:
        ops_in_order.reverse()
    with patch.object(ColorJitter, '_rand_params', return_value=(order, *factors)):
        return cpu(Compose(ops_in_order + [GaussianBlur(radius=sigma, prob=1.0)]), photo_bgr)


def test_a_whole_view_equals_the_cpu_pipeline_given_the_same_draws(photo_bgr):
    """Every op on (prob 1) so that the pipeline order matters: the preprocessor's
    view equals the CPU pipeline run with the parameters the preprocessor drew,
    sample by sample, and not the CPU pipeline in another order."""
    always = [dict(cfg, prob=1.0) for cfg in STRONG_COLOUR]
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[always], seed=5)
    replay = torch.Generator()
    replay.set_state(preprocessor.generator.get_state())
    view = torch.from_numpy(photo_bgr.copy()).permute(2, 0, 1)[None].repeat(4, 1, 1, 1)
    out = train_forward(preprocessor, view)
    jitter, _, blur = (augment.sample(4, replay) for augment in preprocessor.view_pipelines[0])
    for i in range(4):
        draws = dict(order=jitter['order'][i], factors=jitter['factors'][i])
        expected = _cpu_view(photo_bgr, draws, float(blur['sigma'][i]))
        got = out[i].permute(1, 2, 0).numpy().astype(np.uint8)
        assert max_diff(got, expected) == 0, i
        assert max_diff(got, _cpu_view(photo_bgr, draws, float(blur['sigma'][i]),
                                       grey_first=True)) > 1


def _photo_crops(num: int, seed: int = 0) -> np.ndarray:
    """``num`` different 40x48 BGR crops of the sample photos, ``(num, 40, 48, 3)``."""
    rng = np.random.default_rng(seed)
    photos = load_sample_images().images
    crops = []
    for i in range(num):
        photo = photos[i % 2]
        y, x = rng.integers(0, photo.shape[0] - 40), rng.integers(0, photo.shape[1] - 48)
        crops.append(photo[y:y + 40, x:x + 48, ::-1])
    return np.ascontiguousarray(np.stack(crops))


def test_each_sample_equals_the_cpu_pipeline_with_its_own_draws():
    """The recipe's probabilities (jitter 0.8, grey 0.2, blur 0.5) on a batch of different
    crops: every sample, whichever ops it drew, equals the CPU pipeline run with its
    draws, and a sample that drew none comes out unchanged."""
    num = 24
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[STRONG_COLOUR], seed=11)
    replay = torch.Generator()
    replay.set_state(preprocessor.generator.get_state())
    crops = _photo_crops(num)
    out = train_forward(preprocessor, torch.from_numpy(crops).permute(0, 3, 1, 2))
    jitter, grey, blur = (augment.sample(num, replay) for augment in preprocessor.view_pipelines[0])
    drew = torch.stack([jitter['apply'], grey['apply'], blur['apply']])
    assert drew.any(dim=1).all() and not drew.all(dim=1).any()  # a mixed batch
    for i in range(num):
        steps = []
        if jitter['apply'][i]:
            steps.append(ColorJitter(**JITTER))
        if grey['apply'][i]:
            steps.append(RandomGrayscale(prob=1.0, keep_channels=True,
                                         channel_weights=GREY_WEIGHTS))
        if blur['apply'][i]:
            steps.append(GaussianBlur(radius=float(blur['sigma'][i]), prob=1.0))
        draws = (jitter['order'][i].numpy(), *jitter['factors'][i].numpy().tolist())
        with patch.object(ColorJitter, '_rand_params', return_value=draws):
            expected = cpu(Compose(steps), crops[i])
        got = out[i].permute(1, 2, 0).numpy().astype(np.uint8)
        assert max_diff(got, expected) == 0, i


# ------------------------------------------------------------ kernels and copies

def _uint8_batch(num: int, size: int, views: int = 2) -> dict:
    gen = torch.Generator().manual_seed(num)
    return dict(inputs=[torch.randint(0, 256, (num, 3, size, size), dtype=torch.uint8,
                                      generator=gen) for _ in range(views)],
                data_samples=None)


def test_a_batch_takes_at_most_300_ops_on_image_sized_tensors_whatever_its_size():
    """The recipe's preprocessor (weak view: conversion and normalisation; strong view:
    jitter, grayscale, blur), counted per batch on the CPU with a TorchDispatchMode:
    the ops that launch a kernel on an image-like tensor (at least one image channel:
    the per-sample parameters do not count, they are no image's size). Per-sample
    ops on index-gathered subsets would grow with the number of (position, op) pairs
    the batch draws; whole-batch ops with per-sample parameters do not."""
    size, counts = 32, {}
    for num in (32, 256):
        preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[[], STRONG_COLOUR], seed=0,
                                                   **NORM)
        batch = _uint8_batch(num, size)
        with CountOps(min_numel=size * size) as counted:
            preprocessor(batch, training=True)
        counts[num] = counted
        print(f'batch {num}: {counted.total} ops on image-sized tensors per batch')
    assert counts[32].total <= 300, counts[32].counts
    assert counts[256].total == counts[32].total, (counts[32].counts, counts[256].counts)
    assert 'index_put_' not in counts[32].counts  # no per-subset scatter


def on_the_host(fn):
    """``fn`` run outside torch's FakeTensorMode: on real (host) tensors."""
    def run(*args, **kwargs):
        with unset_fake_temporarily():
            return fn(*args, **kwargs)
    return run


def test_a_training_batch_reaches_the_device_in_one_parameter_copy_without_host_syncs():
    """On fake CUDA tensors (torch's FakeTensorMode): after the views' own (non-blocking)
    copies, one non-blocking copy brings all the batch's parameters, drawn on the host;
    no op waits for the device (no index built from a host list or mask, no blocking
    copy, no read of a device value)."""
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[[], STRONG_COLOUR], seed=0,
                                               non_blocking=True, **NORM)
    for augment in preprocessor.view_pipelines[1]:  # the draws are real host data, as in a run
        for name in ('sample', 'encode'):
            if hasattr(augment, name):
                setattr(augment, name, on_the_host(getattr(augment, name)))
    batch = _uint8_batch(8, 16)
    with FakeTensorMode(allow_non_fake_inputs=True):
        preprocessor.to('cuda')
        with HostSyncs() as syncs:
            out = preprocessor(batch, training=True)['inputs']
    assert [v.device.type for v in out] == ['cuda', 'cuda']
    assert not syncs.found, syncs.report()
    views, params = syncs.host_to_device[:2], syncs.host_to_device[2:]
    assert views == [(8, 3, 16, 16)] * 2 and len(params) == 1, syncs.host_to_device


# ---------------------------------------------------------- random parameters

N = 4000


def _ks_same(a, b) -> bool:
    return stats.ks_2samp(np.asarray(a), np.asarray(b)).pvalue > 1e-3


def _binomial_ok(hits: int, n: int, p: float) -> bool:
    return abs(hits - n * p) < 5 * np.sqrt(n * p * (1 - p)) + 1


def test_colour_jitter_parameters_follow_the_cpu_transform():
    np.random.seed(0)
    jitter = ColorJitter(**JITTER)
    cpu_draws = [jitter._rand_params() for _ in range(N)]
    gen = torch.Generator().manual_seed(0)
    params = BatchColorJitter(**JITTER, prob=0.8).sample(N, gen)
    for i in range(4):
        assert _ks_same(params['factors'][:, i], [d[1 + i] for d in cpu_draws]), i
    # every one of the 24 orders, uniformly (chi-square), per sample
    counts = np.unique(params['order'].numpy(), axis=0, return_counts=True)[1]
    assert len(counts) == 24 and stats.chisquare(counts).pvalue > 1e-3
    # RandomApply(prob=0.8)
    assert _binomial_ok(int(params['apply'].sum()), N, 0.8)
    # One order per batch (what kornia's ColorJitter draws) has the same marginal
    # distribution; the CPU pipeline draws one per sample, and so must a batch:
    batch = BatchColorJitter(**JITTER).sample(256, gen)['order']
    assert len(torch.unique(batch, dim=0)) == 24


def test_blur_grayscale_solarize_parameters_follow_the_cpu_transforms():
    np.random.seed(0)
    cpu_blur = GaussianBlur(magnitude_range=(0.1, 2.0), magnitude_std='inf', prob=0.5)
    cpu_sigma = [cpu_blur.random_magnitude() for _ in range(N)]
    gen = torch.Generator().manual_seed(1)
    blur = BatchGaussianBlur(sigma_range=(0.1, 2.0), prob=0.5).sample(N, gen)
    assert _ks_same(blur['sigma'], cpu_sigma)
    assert _binomial_ok(int(blur['apply'].sum()), N, 0.5)
    grey = BatchRandomGrayscale(prob=0.2).sample(N, gen)['apply']
    assert _binomial_ok(int(grey.sum()), N, 0.2)
    solarize = BatchSolarize(prob=0.2).sample(N, gen)['apply']
    assert _binomial_ok(int(solarize.sum()), N, 0.2)


# ------------------------------------------------------------ output statistics

# Views per side: enough for the KS tests to tell a wrong blur kernel (p ~ 1e-13 here)
# while the right pipeline passes (p of 0.16 to 0.95 per statistic).
VIEWS = 1000


def _statistics(bgr_images: np.ndarray) -> dict:
    """Per-image statistics, ``(N, H, W, 3)`` uint8 in: brightness, contrast,
    colourfulness, sharpness."""
    x = bgr_images.astype(np.float64)
    return dict(mean=x.mean(axis=(1, 2, 3)), std=x.std(axis=(1, 2, 3)),
                colour=(x.max(axis=3) - x.min(axis=3)).mean(axis=(1, 2)),
                sharpness=np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3)))


@pytest.fixture(scope='module')
def cpu_outputs(photo_bgr):
    """The CPU strong-view colour pipeline on the photo, ``VIEWS`` times."""
    np.random.seed(0)
    random.seed(0)
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    pipeline = Compose(CPU_STRONG_COLOUR)
    return np.stack([cpu(pipeline, photo_bgr) for _ in range(VIEWS)])


def _device_outputs(photo_bgr: np.ndarray, view_pipeline) -> np.ndarray:
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[view_pipeline], seed=0)
    view = torch.from_numpy(photo_bgr.copy()).permute(2, 0, 1)[None].repeat(VIEWS, 1, 1, 1)
    out = train_forward(preprocessor, view)
    return out.permute(0, 2, 3, 1).numpy().astype(np.uint8)


def test_output_statistics_follow_the_cpu_pipeline(photo_bgr, cpu_outputs):
    reference = _statistics(cpu_outputs)
    got = _statistics(_device_outputs(photo_bgr, STRONG_COLOUR))
    for key in reference:
        assert _ks_same(got[key], reference[key]), key


def test_output_statistics_see_a_wrong_blur_kernel(photo_bgr, cpu_outputs, monkeypatch):
    """Three boxes of radius sigma (reading Pillow's radius as the box radius) leave
    colours alone but blur about twice as much: the sharpness distribution catches it."""
    monkeypatch.setattr(ops, 'box_blur_radius', lambda sigma, passes=3: sigma.float())
    got = _statistics(_device_outputs(photo_bgr, STRONG_COLOUR))
    reference = _statistics(cpu_outputs)
    assert not _ks_same(got['sharpness'], reference['sharpness'])


# ------------------------------------------------------------- the preprocessor

def _batch(photo_bgr: np.ndarray, num: int = 6, views: int = 2) -> dict:
    view = torch.from_numpy(photo_bgr.copy()).permute(2, 0, 1)[None].repeat(num, 1, 1, 1)
    return dict(inputs=[view.clone() for _ in range(views)], data_samples=None)


def test_unaugmented_view_and_evaluation_are_the_plain_preprocessor(photo_bgr):
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[[], STRONG_COLOUR], **NORM)
    plain = SelfSupDataPreprocessor(**NORM)
    batch = _batch(photo_bgr)
    out = preprocessor(batch, training=True)['inputs']
    reference = plain(batch, training=True)['inputs']
    assert torch.equal(out[0], reference[0])
    assert not torch.equal(out[1], reference[1])
    # per sample: six copies of one photo come out different
    assert len({tuple(v.flatten()[:50].tolist()) for v in out[1]}) > 1
    # no augmentation outside training
    test = dict(inputs=batch['inputs'][0], data_samples=None)
    assert torch.equal(preprocessor(test)['inputs'], plain(test)['inputs'])


def test_same_seed_same_views_and_restored_state_repeats_them(photo_bgr):
    first, second = (ViewAugmentDataPreprocessor(view_pipelines=[STRONG_COLOUR] * 2, seed=3)
                     for _ in range(2))
    batch = _batch(photo_bgr)
    out = first(batch, training=True)['inputs']
    assert all(torch.equal(a, b) for a, b in zip(out, second(batch, training=True)['inputs']))
    state = first.generator.get_state()
    expected = first(batch, training=True)['inputs']
    first.generator.set_state(state)
    assert all(torch.equal(a, b) for a, b in zip(expected, first(batch, training=True)['inputs']))


def test_seed_defaults_to_the_run_seed_plus_rank(monkeypatch):
    from cgh_mm.models.data_preprocessors import view_augment_data_preprocessor as module

    torch.manual_seed(7)
    rank0 = ViewAugmentDataPreprocessor(view_pipelines=[[]]).generator.initial_seed()
    monkeypatch.setattr(module, 'get_rank', lambda: 1)
    rank1 = ViewAugmentDataPreprocessor(view_pipelines=[[]]).generator.initial_seed()
    assert (rank0, rank1) == (7, 8)


def test_bad_configs_are_refused_with_the_fix(photo_bgr):
    preprocessor = ViewAugmentDataPreprocessor(view_pipelines=[[], STRONG_COLOUR])
    with raises_stating(ValueError, '3 views', 'view_pipelines has 2'):
        preprocessor(_batch(photo_bgr, views=3), training=True)
    with raises_stating(ValueError, "'RandomFlip'", 'RandomGrayscale'):  # and the valid ones
        ViewAugmentDataPreprocessor(view_pipelines=[[dict(type='RandomFlip')]])
    with raises_stating(ValueError, 'Solarize', 'prob', '[0, 1]', 'got 2'):
        ViewAugmentDataPreprocessor(view_pipelines=[[dict(type='Solarize', prob=2)]])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_a_cuda_batch_gets_the_same_views_as_a_cpu_batch(photo_bgr):
    """The parameters are drawn on the CPU either way, so the same seed gives the same
    views on both devices, within one grey level (the GPU may fuse a multiply-add where
    the CPU rounds twice)."""
    always = [dict(cfg, prob=1.0) for cfg in STRONG_COLOUR]
    on_cpu, on_cuda = (ViewAugmentDataPreprocessor(view_pipelines=[[], always], seed=2, **NORM)
                       for _ in range(2))
    batch = _batch(photo_bgr, num=8)
    expected = on_cpu(batch, training=True)['inputs']
    got = on_cuda.cuda()(batch, training=True)['inputs']
    for a, b in zip(expected, got):
        diff = (a - b.cpu()).abs() * torch.tensor(NORM['std']).view(1, 3, 1, 1)
        assert b.is_cuda and diff.max() <= 1 + 1e-3 and (diff > 1e-3).float().mean() < 0.01
