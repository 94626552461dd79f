from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import get_rank
from mmpretrain.datasets.transforms import ColorJitter as CPUColorJitter
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from . import batch_colour_ops as ops

Params = Dict[str, torch.Tensor]


def _indices(mask: torch.Tensor, device: torch.device) -> torch.Tensor:
    # Built on the CPU, where the parameters are drawn: no device sync for nonzero().
    return mask.nonzero().flatten().to(device, non_blocking=True)


class _BatchAugment:
    """An augmentation applied per sample with probability ``prob``: :meth:`sample` draws
    who gets it (on the CPU, from ``generator``), :meth:`op` runs on those samples only."""

    def __init__(self, name: str, prob: float) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'{name}: prob must be in [0, 1], got {prob}.')
        self.prob = float(prob)

    def sample(self, num: int, generator: torch.Generator) -> Params:
        return dict(apply=torch.rand(num, generator=generator) < self.prob)

    def op(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        if params['apply'].any():
            idx = _indices(params['apply'], images.device)
            images[idx] = self.op(images[idx], params)
        return images


class BatchColorJitter(_BatchAugment):
    """mmpretrain's ``ColorJitter`` (Pillow backend) inside ``RandomApply(prob)``: per
    sample, with probability ``prob``, brightness, contrast, saturation and hue in a
    random order of their own, each factor uniform in its range. The ranges are
    parsed by mmpretrain's ``ColorJitter`` itself, so the arguments mean the same."""

    def __init__(self, brightness: Union[float, Sequence[float]] = 0.,
                 contrast: Union[float, Sequence[float]] = 0.,
                 saturation: Union[float, Sequence[float]] = 0.,
                 hue: Union[float, Sequence[float]] = 0., prob: float = 1.0) -> None:
        super().__init__('ColorJitter', prob)
        cpu = CPUColorJitter(brightness, contrast, saturation, hue)
        # Index = the CPU transform's op index (0 brightness, 1 contrast, 2 saturation, 3 hue).
        self.ranges = (cpu.brightness, cpu.contrast, cpu.saturation, cpu.hue)
        self.ops = (ops.adjust_brightness, ops.adjust_contrast, ops.adjust_saturation,
                    ops.adjust_hue)

    def sample(self, num: int, generator: torch.Generator) -> Params:
        params = super().sample(num, generator)
        order = torch.rand(num, 4, generator=generator).argsort(dim=1)
        factors = torch.rand(num, 4, generator=generator, dtype=torch.float64)
        for i, bounds in enumerate(self.ranges):
            low, high = bounds if bounds is not None else (0.0, 0.0)
            factors[:, i] = low + (high - low) * factors[:, i]
        return dict(params, order=order, factors=factors)

    def __call__(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        factors = params['factors'].to(images.device, non_blocking=True)
        for position in range(4):
            for op_index, op in enumerate(self.ops):
                if self.ranges[op_index] is None:
                    continue
                mask = params['apply'] & (params['order'][:, position] == op_index)
                if mask.any():
                    idx = _indices(mask, images.device)
                    images[idx] = op(images[idx], factors[idx, op_index])
        return images


class BatchRandomGrayscale(_BatchAugment):
    """mmcv's ``RandomGrayscale(keep_channels=True)``. ``channel_weights`` are in the
    channel order of the loaded image, as there: BGR when ``input_is_bgr`` (mmcv's
    loaders), which the preprocessor sets from its own channel arguments."""

    def __init__(self, prob: float = 0.1, channel_weights: Sequence[float] = (1., 1., 1.),
                 input_is_bgr: bool = True) -> None:
        super().__init__('RandomGrayscale', prob)
        if len(channel_weights) != 3:
            raise ValueError('RandomGrayscale: channel_weights needs 3 numbers (one per '
                             f'channel, loaded order), got {channel_weights}.')
        weights = torch.tensor(channel_weights, dtype=torch.float64)
        # the ops run on RGB images
        self.rgb_weights = weights.flip(0) if input_is_bgr else weights

    def op(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        return ops.grayscale(images, self.rgb_weights.to(images.device))


class BatchGaussianBlur(_BatchAugment):
    """mmpretrain's ``GaussianBlur(magnitude_range=sigma_range, magnitude_std='inf',
    prob=prob)``: sigma uniform in ``sigma_range``, blurred as Pillow does."""

    def __init__(self, sigma_range: Tuple[float, float] = (0.1, 2.0), prob: float = 0.5) -> None:
        if not 0.0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f'GaussianBlur: sigma_range must be (low, high) with 0 < low <= '
                             f'high, got {sigma_range}.')
        self.sigma_range = tuple(float(s) for s in sigma_range)
        super().__init__('GaussianBlur', prob)

    def sample(self, num: int, generator: torch.Generator) -> Params:
        params = super().sample(num, generator)
        low, high = self.sigma_range
        sigma = low + (high - low) * torch.rand(num, generator=generator, dtype=torch.float64)
        return dict(params, sigma=sigma)

    def op(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        return ops.gaussian_blur(images, params['sigma'][params['apply']])


class BatchSolarize(_BatchAugment):
    """mmpretrain's ``Solarize(thr=thr, prob=prob)``."""

    def __init__(self, thr: float = 128, prob: float = 0.5) -> None:
        super().__init__('Solarize', prob)
        self.thr = float(thr)

    def op(self, images: torch.Tensor, params: Params) -> torch.Tensor:
        return ops.solarize(images, self.thr)


BATCH_AUGMENTS = dict(ColorJitter=BatchColorJitter, RandomGrayscale=BatchRandomGrayscale,
                      GaussianBlur=BatchGaussianBlur, Solarize=BatchSolarize)


def build_batch_augment(cfg: dict, input_is_bgr: bool = True):
    """A batched augmentation from a config dict such as ``dict(type='Solarize', prob=0.2)``,
    for views in BGR order (``input_is_bgr``) or RGB."""
    cfg = dict(cfg)
    kind = cfg.pop('type', None)
    if kind not in BATCH_AUGMENTS:
        raise ValueError(f'ViewAugmentDataPreprocessor: unknown augmentation type {kind!r} in '
                         f'view_pipelines; use one of {sorted(BATCH_AUGMENTS)}.')
    if kind == 'RandomGrayscale':
        cfg['input_is_bgr'] = input_is_bgr
    return BATCH_AUGMENTS[kind](**cfg)


@MODELS.register_module()
class ViewAugmentDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that also runs the colour part of each view's
    pipeline, batched, on the device the batch lives on.

    The CPU workers only decode, crop and flip, and hand over uint8 views; here each
    view gets its own augmentations, per sample with their own random parameters
    and probabilities, in the order given, then the usual channel conversion and
    normalisation. The ops reproduce the CPU transforms (see
    :mod:`.batch_colour_ops`), and flipping on the CPU first changes nothing, as
    every op here is either per pixel or a symmetric blur with symmetric borders.

    Randomness: a CPU ``torch.Generator`` (``self.generator``) seeded with
    ``seed + rank``, where ``seed`` defaults to the run's seed (``randomness.seed``,
    which the Runner sets before it builds the model). Parameters are drawn on the
    CPU and moved over, so CPU and GPU runs draw the same ones; the RandomStateHook
    saves and restores the generator with the others, so a resume continues the
    same stream.

    Args:
        view_pipelines: one list of augmentation configs per view, in view order,
            each a dict with ``type`` one of ``ColorJitter`` (``brightness``,
            ``contrast``, ``saturation``, ``hue``, ``prob``), ``RandomGrayscale``
            (``prob``, ``channel_weights``), ``GaussianBlur`` (``sigma_range``,
            ``prob``), ``Solarize`` (``thr``, ``prob``); an empty list leaves a view as
            it is.
        seed: base seed of the generator; None takes the run's seed.
        mean, std, to_rgb, bgr_to_rgb, rgb_to_bgr, non_blocking: as in
            ``SelfSupDataPreprocessor``. The views come in the loader's channel order
            (BGR unless ``rgb_to_bgr``).
    """

    def __init__(self,
                 view_pipelines: Sequence[Sequence[dict]],
                 seed: Optional[int] = None,
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 to_rgb: bool = False,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 non_blocking: Optional[bool] = False) -> None:
        super().__init__(mean=mean, std=std, to_rgb=to_rgb, bgr_to_rgb=bgr_to_rgb,
                         rgb_to_bgr=rgb_to_bgr, non_blocking=non_blocking)
        self.input_is_bgr = not rgb_to_bgr
        self.view_pipelines = [[build_batch_augment(cfg, self.input_is_bgr) for cfg in view]
                               for view in view_pipelines]
        self.generator = torch.Generator()
        base = torch.initial_seed() if seed is None else int(seed)
        self.generator.manual_seed((base + get_rank()) % (1 << 63))

    def augment_view(self, view: torch.Tensor, pipeline: List) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 view in the loader's channel order -> augmented float
        view in the same order, whole numbers in [0, 255]."""
        images = view.float()
        if not pipeline:
            return images
        if self.input_is_bgr:
            images = images.flip(1)
        for augment in pipeline:
            images = augment(images, augment.sample(images.shape[0], self.generator))
        return images.flip(1) if self.input_is_bgr else images

    def forward(self, data: dict, training: bool = False) -> dict:
        """As ``SelfSupDataPreprocessor.forward``; in training, the views are
        augmented first."""
        if training:
            views = self.cast_data(data['inputs'])  # data samples: cast by the base class
            if not isinstance(views, (list, tuple)) or len(views) != len(self.view_pipelines):
                got = len(views) if isinstance(views, (list, tuple)) else 'one'
                raise ValueError(
                    f'ViewAugmentDataPreprocessor: the batch has {got} views but '
                    f'view_pipelines has {len(self.view_pipelines)}. Give one list per view '
                    'of the MultiView in the train pipeline (an empty list for a view '
                    'without colour augmentation).')
            views = [self.augment_view(view, pipeline)
                     for view, pipeline in zip(views, self.view_pipelines)]
            data = {'inputs': views, 'data_samples': data.get('data_samples')}
        return super().forward(data, training)
