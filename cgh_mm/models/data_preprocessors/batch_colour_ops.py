"""Batched colour augmentations with per-sample parameters, on any device.

Each function takes ``images``: ``(N, 3, H, W)`` float tensors in RGB order that
hold whole numbers in ``[0, 255]`` (uint8 values), and per-sample parameters of
shape ``(N,)``, and returns the same layout. They reproduce the CPU transforms of
the two-view pipeline (mmpretrain's ``ColorJitter``/``GaussianBlur``/``Solarize``
and mmcv's ``RandomGrayscale``, all with the Pillow backend) operation by
operation, including their uint8 rounding after every step, so that a crop
augmented here equals the CPU result within one grey level.

Every op runs on the whole batch in a fixed number of kernels: a sample that does
not get it has an identity parameter (blend factor 1, a one-tap blur kernel, both
exact on whole numbers) or is left as it was by ``torch.where``, so no subset of the
batch is gathered or scattered and the kernel count does not depend on the batch.

Written in plain torch rather than with kornia 0.9: kornia draws one op order per
batch (not per sample), blurs with a sampled Gaussian on a fixed kernel size
(Pillow blurs with three extended box filters whose width follows sigma) and
draws from torch's global generator, so its distribution differs from the CPU
pipeline's on all three points.
"""
from typing import Optional

import torch
from torch import Tensor

# Pillow's RGB -> L weights, 16-bit fixed point (ITU-R 601-2 luma).
LUMA_WEIGHTS = (19595, 38470, 7471)


def luma_weights(device: Optional[torch.device] = None) -> Tensor:
    """``(3,)`` float32 weights of :func:`luma`: Pillow's, divided by 65536 (exact)."""
    return torch.tensor(LUMA_WEIGHTS, dtype=torch.float32, device=device) / 65536


def luma(images: Tensor, weights: Optional[Tensor] = None) -> Tensor:
    """Pillow's ``convert('L')`` of RGB images: ``(N, 3, H, W)`` -> ``(N, 1, H, W)``.
    ``weights``: :func:`luma_weights` on the images' device (made there if None)."""
    if weights is None:
        weights = luma_weights(images.device)
    # Pillow: (19595 r + 38470 g + 7471 b + 0x8000) >> 16. Every product and partial sum
    # of whole numbers <= 255 with these weights / 65536 is exact in float32 (at most
    # 8 integer and 16 fraction bits), so the sum is Pillow's in any order.
    return ((images * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True) + 0.5).floor_()


def mean_luma(grey: Tensor) -> Tensor:
    """``ImageEnhance.Contrast``'s degenerate: the rounded mean of ``grey`` ``(N, 1, H,
    W)`` per sample, ``(N, 1, 1, 1)``."""
    return torch.floor(grey.mean(dim=(1, 2, 3), keepdim=True, dtype=torch.float64)
                       + 0.5).to(grey.dtype)


def blend(degenerate: Tensor, images: Tensor, factor: Tensor) -> Tensor:
    """Pillow's ``Image.blend``: ``degenerate + factor * (images - degenerate)``,
    clipped to ``[0, 255]`` and truncated to an integer, as its C code does.
    ``degenerate`` broadcasts to ``images``; ``factor`` is ``(N,)``. Factor 1 leaves
    a sample exactly as it is."""
    factor = factor.to(images.dtype).view(-1, 1, 1, 1)
    return (degenerate + factor * (images - degenerate)).clamp_(0, 255).trunc_()


def blend_step(images: Tensor, factor: Tensor, contrast: Tensor, saturation: Tensor,
               weights: Optional[Tensor] = None) -> Tensor:
    """One of brightness, contrast or saturation per sample, in one pass over the batch:
    ``contrast`` and ``saturation`` (``(N,)`` bool) say which (neither: brightness),
    ``factor`` ``(N,)`` its factor (1 for a sample left as it is); ``weights`` as
    in :func:`luma`."""
    grey = luma(images, weights)
    flat = torch.where(contrast.view(-1, 1, 1, 1), mean_luma(grey), 0.0)
    return blend(torch.where(saturation.view(-1, 1, 1, 1), grey, flat), images, factor)


def hue_shift(hue_factor: Tensor) -> Tensor:
    """``mmcv.adjust_hue``'s shift of the 8-bit hue: numpy's ``uint8(hue_factor * 255)``
    truncates toward zero (the wrap modulo 256 is in :func:`shift_hue`); float64."""
    return (hue_factor.to(torch.float64) * 255).trunc()


def shift_hue(images: Tensor, shift: Tensor) -> Tensor:
    """Pillow's 8-bit HSV of each pixel, hue plus ``shift`` ``(N,)`` (from
    :func:`hue_shift`) modulo 256, back to RGB. The single and double precision steps
    follow Pillow's C code (``Convert.c``), so the rounding matches."""
    f32, f64 = torch.float32, torch.float64
    maxc, channel = images.max(dim=1)  # channel: the first one holding the maximum
    span = maxc - images.amin(dim=1)
    # A grey pixel (span 0) divides by 1 instead: its saturation is then 0, and a pixel
    # of saturation 0 comes back as (v, v, v) whatever its hue.
    sat = span / maxc.clamp(min=1)
    # rc, gc, bc = (maxc - c) / span in float32, then used in double as in C
    dist = ((maxc.unsqueeze(1) - images) / span.clamp(min=1).unsqueeze(1)).to(f64)
    # h = bc - gc (red max), 2 + rc - bc (green), 4 + gc - rc (blue): for channel c,
    # 2c + dist[c - 1] - dist[c + 1], taken at the first channel holding the maximum
    double_channel = torch.arange(0, 6, 2, device=images.device, dtype=f64).view(1, 3, 1, 1)
    h = (double_channel + dist.roll(1, dims=1) - dist.roll(-1, dims=1)).gather(
        1, channel.unsqueeze(1)).squeeze(1).to(f32)
    hue = torch.fmod(h.to(f64) / 6.0 + 1.0, 1.0).to(f32).to(f64)  # in [0, 1)
    h8 = torch.remainder((hue * 255.0).trunc_() + shift.to(f64).view(-1, 1, 1), 256)
    s8 = (sat.to(f64) * 255.0).trunc_()

    sector_pos = h8 * 6.0 / 255.0
    sector = sector_pos.floor()
    frac = (sector_pos - sector).to(f32)
    fs = (s8 / 255.0).to(f32)
    fs64 = fs.to(f64)
    v = maxc.to(f64)
    # C's round(): half away from zero; all values here are in [0, 255].
    p = (v * (1.0 - fs64) + 0.5).floor_()
    q = (v * (1.0 - (fs * frac).to(f64)) + 0.5).floor_()
    t = (v * (1.0 - fs64 * (1.0 - frac.to(f64))) + 0.5).floor_()
    # Pillow's six sectors: red takes (v, q, p, p, t, v)[sector % 6], green the same
    # at sector - 2, blue at sector - 4.
    pattern = torch.stack([v, q, p, p, t, v], dim=1)
    index = torch.remainder(sector.unsqueeze(1) - double_channel, 6).long()
    return pattern.gather(1, index).to(images.dtype)


def grey_levels(images: Tensor, rgb_weights: Tensor) -> Tensor:
    """mmcv's ``RandomGrayscale`` grey level: the weighted channel sum, truncated,
    ``(N, 1, H, W)``. ``rgb_weights``: ``(3,)`` in RGB order, summing to 1 (mmcv's
    ``channel_weights`` divided by their sum, as mmcv does)."""
    # float64 as mmcv's numpy sum: in float32 a grey pixel (v, v, v) can land just
    # under v and truncate to v - 1 where mmcv keeps v, or the other way round.
    grey = (images.double() * rgb_weights.double().view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
    return grey.trunc_().to(images.dtype)


def solarize(images: Tensor, threshold: float) -> Tensor:
    """``mmcv.solarize``: invert the pixels at or above ``threshold``."""
    return torch.where(images < threshold, images, 255 - images)


def box_blur_radius(sigma: Tensor, passes: int = 3) -> Tensor:
    """Radius of the extended box filter that Pillow's ``GaussianBlur(sigma)`` runs
    ``passes`` times (Gwosdek et al. 2011): integer part ``l`` plus fraction ``a``.
    For sigma in [0.1, 2] the radius is in [0.0017, 1.375], so each pass spans at most
    5 pixels."""
    sigma = sigma.float()
    sigma2 = sigma * sigma / passes
    box_length = torch.sqrt(12.0 * sigma2 + 1.0)
    whole = torch.floor((box_length - 1.0) / 2.0)
    frac = (2 * whole + 1) * (whole * (whole + 1) - 3 * sigma2)
    frac = frac / (6 * (sigma2 - (whole + 1) * (whole + 1)))
    return whole + frac


def box_blur_taps(sigma: Tensor, max_whole: int, passes: int = 3) -> Tensor:
    """CPU: ``(N, 2 * max_whole + 3)`` int64 taps of Pillow's ``GaussianBlur(sigma)`` per
    sample (:func:`box_blur`'s argument), ``max_whole`` at least the integer part ``l``
    of every sample's :func:`box_blur_radius` ``r`` (zero taps beyond a sample's own width
    change nothing). In Pillow's 24-bit fixed point: the ``2l + 1`` inner taps weigh
    ``ww = 2**24 / (2r + 1)`` (truncated), the two outer ones ``fw``, the remainder split
    in two."""
    radius = box_blur_radius(sigma, passes)
    whole = radius.floor()
    ww = torch.floor(float(1 << 24) / (radius * 2 + 1)).long()
    fw = ((1 << 24) - (whole.long() * 2 + 1) * ww) // 2
    offsets = torch.arange(-max_whole - 1, max_whole + 2).abs()
    inner = offsets[None] <= whole.long()[:, None]
    outer = offsets[None] == whole.long()[:, None] + 1
    return torch.where(inner, ww[:, None], torch.where(outer, fw[:, None], 0))


def identity_taps(num: int, width: int) -> Tensor:
    """``(num, width)`` taps that leave an image exactly as it is (one centre tap)."""
    taps = torch.zeros(num, width, dtype=torch.long)
    taps[:, width // 2] = 1 << 24
    return taps


def box_blur(images: Tensor, taps: Tensor, passes: int = 3) -> Tensor:
    """Pillow's ``ImageFilter.GaussianBlur`` given its taps ``(N, width)`` per sample
    (:func:`box_blur_taps`, on the images' device, any dtype holding the integers):
    ``passes`` horizontal extended box blurs, then ``passes`` vertical ones, each on
    edge-replicated borders and rounded to uint8 as Pillow stores it. The sums run in
    int64, exactly as Pillow's fixed-point ones."""
    width = taps.shape[1]
    pad = width // 2
    taps = taps.long().view(-1, 1, 1, width)
    out = images.long()
    for _ in range(2):  # horizontal passes, then the same on the transposed image
        size = out.shape[-1]
        # edge-replicating gather: columns -pad .. size - 1 + pad, clamped
        columns = torch.arange(-pad, size + pad, device=images.device).clamp_(0, size - 1)
        for _ in range(passes):
            padded = out.index_select(-1, columns)
            acc = padded[..., :size] * taps[..., :1]
            for k in range(1, width):
                acc.addcmul_(padded[..., k:k + size], taps[..., k:k + 1])
            out = acc.add_(1 << 23).bitwise_right_shift_(24)
        out = out.transpose(-1, -2)
    return out.to(images.dtype, memory_format=torch.contiguous_format)
