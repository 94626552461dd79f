from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.dist import get_rank
from mmpretrain.datasets.transforms import ColorJitter as CPUColorJitter
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS
from torch import Tensor

from . import batch_colour_ops as ops

Params = Dict[str, Tensor]
# What an augmentation's ``apply`` reads: tensors (on the CPU from ``encode``, then on
# the images' device) and plain values the host decided from the draws.
Encoded = Dict[str, Any]


def to_device_in_one_copy(tensors: Sequence[Tensor],
                          device: Union[str, torch.device]) -> List[Tensor]:
    """CPU ``tensors`` as float64 on ``device``, through a single copy (pinned and
    non-blocking to a CUDA device: the host does not wait for the device)."""
    if not tensors:
        return []
    flat = torch.cat([t.reshape(-1).to(torch.float64) for t in tensors])
    device = torch.device(device)
    if flat.device != device:
        if device.type == 'cuda' and torch.cuda.is_available():
            flat = flat.pin_memory()
        flat = flat.to(device, non_blocking=True)
    return [chunk.view(t.shape) for chunk, t in zip(flat.split([t.numel() for t in tensors]),
                                                     tensors)]


def encoded_to_device(encoded: List[List[Encoded]],
                      device: Union[str, torch.device]) -> List[List[Encoded]]:
    """Each view's encoded parameters with all their tensors on ``device``, moved in
    one copy (:func:`to_device_in_one_copy`)."""
    where = [(v, a, key) for v, view in enumerate(encoded) for a, enc in enumerate(view)
             for key, value in enc.items() if isinstance(value, Tensor)]
    moved = to_device_in_one_copy([encoded[v][a][key] for v, a, key in where], device)
    out = [[dict(enc) for enc in view] for view in encoded]
    for (v, a, key), tensor in zip(where, moved):
        out[v][a][key] = tensor
    return out


def _per_sample(flags: Tensor) -> Tensor:
    """``(N,)`` flags on the device (float 0/1) -> ``(N, 1, 1, 1)`` bool."""
    return flags.bool().view(-1, 1, 1, 1)


class _BatchAugment:
    """An augmentation applied per sample with probability ``prob``: :meth:`sample`
    draws who gets it and its parameters (on the CPU, from ``generator``),
    :meth:`encode` turns the draws into what :meth:`apply` needs, and :meth:`apply`
    runs on the whole batch, leaving the samples without it as they were."""

    def __init__(self, name: str, prob: float) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'{name}: prob must be in [0, 1], got {prob}.')
        self.prob = float(prob)

    def sample(self, num: int, generator: torch.Generator) -> Params:
        return dict(apply=torch.rand(num, generator=generator) < self.prob)

    def encode(self, params: Params) -> Encoded:
        """CPU tensors for :meth:`apply` (moved to the device by the caller) and plain
        values; ``any``: whether any sample gets the augmentation."""
        return dict(apply=params['apply'], any=bool(params['apply'].any()))

    def apply(self, images: Tensor, encoded: Encoded) -> Tensor:
        raise NotImplementedError


class BatchColorJitter(_BatchAugment):
    """mmpretrain's ``ColorJitter`` (Pillow backend) inside ``RandomApply(prob)``: per
    sample, with probability ``prob``, brightness, contrast, saturation and hue in a
    random order of their own, each factor uniform in its range. The ranges are
    parsed by mmpretrain's ``ColorJitter`` itself, so the arguments mean the same.

    On the batch: brightness, contrast and saturation are blends that differ only in
    what they blend with, so each step blends every sample with its own op (factor 1
    where it has none); a sample's blends before its hue run in the steps before the
    batch's single hue step (the last ones of those, so that every sample reaches hue
    together), its blends after hue in the steps after it. At most 3 + 1 + 3 steps,
    in each sample's own order.
    """

    BRIGHTNESS, CONTRAST, SATURATION, HUE = range(4)  # the CPU transform's op indices

    def __init__(self, brightness: Union[float, Sequence[float]] = 0.,
                 contrast: Union[float, Sequence[float]] = 0.,
                 saturation: Union[float, Sequence[float]] = 0.,
                 hue: Union[float, Sequence[float]] = 0., prob: float = 1.0) -> None:
        super().__init__('ColorJitter', prob)
        cpu = CPUColorJitter(brightness, contrast, saturation, hue)
        # Index = the CPU transform's op index (0 brightness, 1 contrast, 2 saturation, 3 hue).
        self.ranges = (cpu.brightness, cpu.contrast, cpu.saturation, cpu.hue)

    def sample(self, num: int, generator: torch.Generator) -> Params:
        params = super().sample(num, generator)
        order = torch.rand(num, 4, generator=generator).argsort(dim=1)
        factors = torch.rand(num, 4, generator=generator, dtype=torch.float64)
        for i, bounds in enumerate(self.ranges):
            low, high = bounds if bounds is not None else (0.0, 0.0)
            factors[:, i] = low + (high - low) * factors[:, i]
        return dict(params, order=order, factors=factors)

    def encode(self, params: Params) -> Encoded:
        """Per blend step ``(steps, N)``: ``factor`` (1: no op), ``contrast``,
        ``saturation`` (neither: brightness); per sample ``hue_on`` and ``hue_shift``;
        ``steps_before`` hue; ``hue``: whether any sample gets it."""
        apply, order, factors = params['apply'], params['order'], params['factors']
        num = apply.shape[0]
        enabled = torch.tensor([bounds is not None for bounds in self.ranges])
        runs = apply[:, None] & enabled[order]  # (N, 4): the op at each position runs
        is_hue = order == self.HUE
        hue_on = (runs & is_hue).any(dim=1)
        blends = runs & ~is_hue
        hue_position = is_hue.long().argmax(dim=1)
        before = blends & ((torch.arange(4) < hue_position[:, None]) | ~hue_on[:, None])
        after = blends & ~before
        steps_before = int(before.sum(dim=1).max()) if num else 0
        steps = steps_before + (int(after.sum(dim=1).max()) if num else 0)
        # the step of each blend; the other positions go to a spare column, dropped
        step = torch.where(before, before.cumsum(dim=1) - 1 + steps_before
                           - before.sum(dim=1, keepdim=True),
                           steps_before + after.cumsum(dim=1) - 1)
        step = torch.where(blends, step, steps)

        def per_step(values: Tensor, fill: float) -> Tensor:
            out = torch.full((num, steps + 1), fill, dtype=torch.float64)
            return out.scatter_(1, step, values.to(torch.float64))[:, :steps].T

        return dict(factor=per_step(factors.gather(1, order), 1.0),
                    contrast=per_step(order == self.CONTRAST, 0.0),
                    saturation=per_step(order == self.SATURATION, 0.0),
                    hue_on=hue_on, hue_shift=ops.hue_shift(factors[:, self.HUE]),
                    luma_weights=ops.luma_weights(), steps_before=steps_before,
                    hue=bool(hue_on.any()))

    def apply(self, images: Tensor, encoded: Encoded) -> Tensor:
        weights = encoded['luma_weights'].to(images.dtype)
        contrast, saturation = encoded['contrast'].bool(), encoded['saturation'].bool()
        for step in range(encoded['factor'].shape[0]):
            if step == encoded['steps_before']:
                images = self._hue(images, encoded)
            images = ops.blend_step(images, encoded['factor'][step], contrast[step],
                                    saturation[step], weights)
        if encoded['factor'].shape[0] == encoded['steps_before']:
            images = self._hue(images, encoded)
        return images

    @staticmethod
    def _hue(images: Tensor, encoded: Encoded) -> Tensor:
        if not encoded['hue']:
            return images
        return torch.where(_per_sample(encoded['hue_on']),
                           ops.shift_hue(images, encoded['hue_shift']), images)


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
        # the ops run on RGB images; normalised as mmcv does
        weights = weights.flip(0) if input_is_bgr else weights
        self.rgb_weights = weights / weights.sum()

    def encode(self, params: Params) -> Encoded:
        return dict(super().encode(params), weights=self.rgb_weights)

    def apply(self, images: Tensor, encoded: Encoded) -> Tensor:
        if not encoded['any']:
            return images
        return torch.where(_per_sample(encoded['apply']),
                           ops.grey_levels(images, encoded['weights']), images)


class BatchGaussianBlur(_BatchAugment):
    """mmpretrain's ``GaussianBlur(magnitude_range=sigma_range, magnitude_std='inf',
    prob=prob)``: sigma uniform in ``sigma_range``, blurred as Pillow does."""

    def __init__(self, sigma_range: Tuple[float, float] = (0.1, 2.0), prob: float = 0.5) -> None:
        if not 0.0 < sigma_range[0] <= sigma_range[1]:
            raise ValueError(f'GaussianBlur: sigma_range must be (low, high) with 0 < low <= '
                             f'high, got {sigma_range}.')
        self.sigma_range = tuple(float(s) for s in sigma_range)
        super().__init__('GaussianBlur', prob)
        # integer part of the largest radius: every batch's kernels get its width
        self.widest = int(ops.box_blur_radius(torch.tensor([self.sigma_range[1]])).floor())

    def sample(self, num: int, generator: torch.Generator) -> Params:
        params = super().sample(num, generator)
        low, high = self.sigma_range
        sigma = low + (high - low) * torch.rand(num, generator=generator, dtype=torch.float64)
        return dict(params, sigma=sigma)

    def encode(self, params: Params) -> Encoded:
        """``taps``: each sample's blur kernel (one centre tap where it gets none), as
        wide as the widest that ``sigma_range`` allows, so every batch has the same."""
        apply = params['apply']
        taps = ops.box_blur_taps(params['sigma'], self.widest)
        taps = torch.where(apply[:, None], taps, ops.identity_taps(len(apply), taps.shape[1]))
        return dict(taps=taps, any=bool(apply.any()))

    def apply(self, images: Tensor, encoded: Encoded) -> Tensor:
        return ops.box_blur(images, encoded['taps']) if encoded['any'] else images


class BatchSolarize(_BatchAugment):
    """mmpretrain's ``Solarize(thr=thr, prob=prob)``."""

    def __init__(self, thr: float = 128, prob: float = 0.5) -> None:
        super().__init__('Solarize', prob)
        self.thr = float(thr)

    def apply(self, images: Tensor, encoded: Encoded) -> Tensor:
        if not encoded['any']:
            return images
        return torch.where(_per_sample(encoded['apply']), ops.solarize(images, self.thr), images)


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
    """Frees the loader's CPUs: the colour part of each view's pipeline runs batched on
    the device the batch lives on (a ``SelfSupDataPreprocessor`` that augments).

    The CPU workers only decode, crop and flip, and hand over uint8 views; here each
    view gets its own augmentations, per sample with their own random parameters
    and probabilities, in the order given, then the usual channel conversion and
    normalisation. The ops reproduce the CPU transforms (see
    :mod:`.batch_colour_ops`), and flipping on the CPU first changes nothing, as
    every op here is either per pixel or a symmetric blur with symmetric borders.

    Randomness: a CPU ``torch.Generator`` (``self.generator``) seeded with
    ``seed + rank``, where ``seed`` defaults to the run's seed (``randomness.seed``,
    which the Runner sets before it builds the model). Parameters are drawn on the
    CPU and moved over, all of a batch's in one copy (pinned and non-blocking on a
    GPU), so CPU and GPU runs draw the same ones; the RandomStateHook saves and
    restores the generator with the others, so a resume continues the same stream.

    Kernels: each op runs once on the whole batch (see :mod:`.batch_colour_ops`), so a
    batch launches the same number of kernels whatever its size and draws, and
    nothing in a step makes the host wait for the device.

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
        # what the base class does, from its arguments (it keeps them as private attributes)
        self.swap_channels = bool(to_rgb or bgr_to_rgb or rgb_to_bgr)
        self.normalize = mean is not None
        self.view_pipelines = [[build_batch_augment(cfg, self.input_is_bgr) for cfg in view]
                               for view in view_pipelines]
        self.generator = torch.Generator()
        base = torch.initial_seed() if seed is None else int(seed)
        self.generator.manual_seed((base + get_rank()) % (1 << 63))

    def draw_parameters(self, num: int) -> List[List[Encoded]]:
        """Each view's augmentation parameters for a batch of ``num``, drawn on the CPU
        from ``self.generator`` (view by view, in pipeline order) and encoded for the
        ops (CPU tensors)."""
        return [[augment.encode(augment.sample(num, self.generator)) for augment in pipeline]
                for pipeline in self.view_pipelines]

    def _augmented_rgb(self, view: torch.Tensor, pipeline: List,
                       encoded: List[Encoded]) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 view in the loader's channel order -> augmented float
        view in RGB, whole numbers in [0, 255]."""
        images = (view.flip(1) if self.input_is_bgr else view).float()
        for augment, params in zip(pipeline, encoded):
            images = augment.apply(images, params)
        return images

    def forward(self, data: dict, training: bool = False) -> dict:
        """As ``SelfSupDataPreprocessor.forward``; in training, the views are
        augmented first. The channel order changes by ``flip`` rather than by indexing
        with a host list (a blocking host-to-device copy per view on a GPU), and all
        parameters of a batch reach the device in one copy."""
        if not isinstance(data, dict):
            raise TypeError('ViewAugmentDataPreprocessor: expects the dict of mmengine\'s '
                            f'default_collate (inputs, data_samples), got {type(data)}.')
        inputs = self.cast_data(data['inputs'])
        data_samples = self.cast_data(data.get('data_samples'))
        views = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        pipelines: List[List] = [[] for _ in views]
        encoded: List[List[Encoded]] = [[] for _ in views]
        if training:
            if not isinstance(inputs, (list, tuple)) or len(views) != len(self.view_pipelines):
                got = len(views) if isinstance(inputs, (list, tuple)) else 'one'
                raise ValueError(
                    f'ViewAugmentDataPreprocessor: the batch has {got} views but '
                    f'view_pipelines has {len(self.view_pipelines)}. Give one list per view '
                    'of the MultiView in the train pipeline (an empty list for a view '
                    'without colour augmentation).')
            pipelines = self.view_pipelines
            encoded = encoded_to_device(self.draw_parameters(views[0].shape[0]),
                                        views[0].device)
        outputs = [self._preprocess(view, pipeline, params)
                   for view, pipeline, params in zip(views, pipelines, encoded)]
        return {'inputs': outputs if isinstance(inputs, (list, tuple)) else outputs[0],
                'data_samples': data_samples}

    def _preprocess(self, view: torch.Tensor, pipeline: List,
                    encoded: List[Encoded]) -> torch.Tensor:
        """One view: augmented (if ``pipeline``), channels converted, float, normalised,
        as ``SelfSupDataPreprocessor`` does."""
        if pipeline:
            images = self._augmented_rgb(view, pipeline, encoded)
            if self.input_is_bgr != self.swap_channels:  # the output is in BGR
                images = images.flip(1)
        else:
            images = (view.flip(1) if self.swap_channels else view).float()
        if self.normalize:
            images = (images - self.mean) / self.std
        return images
