"""Batched colour augmentations with per-sample parameters, on any device.

Each function takes ``images``: ``(N, 3, H, W)`` float tensors in RGB order that
hold whole numbers in ``[0, 255]`` (uint8 values), and per-sample parameters of
shape ``(N,)``, and returns the same layout. They reproduce the CPU transforms of
the two-view pipeline (mmpretrain's ``ColorJitter``/``GaussianBlur``/``Solarize``
and mmcv's ``RandomGrayscale``, all with the Pillow backend) operation by
operation, including their uint8 rounding after every step, so that a crop
augmented here equals the CPU result within one grey level.

Written in plain torch rather than with kornia 0.9: kornia draws one op order per
batch (not per sample), blurs with a sampled Gaussian on a fixed kernel size
(Pillow blurs with three extended box filters whose width follows sigma) and
draws from torch's global generator, so its distribution differs from the CPU
pipeline's on all three points.
"""
import torch

# Pillow's RGB -> L weights, 16-bit fixed point (ITU-R 601-2 luma).
_LUMA_WEIGHTS = (19595, 38470, 7471)


def _blend(degenerate: torch.Tensor, images: torch.Tensor,
           factor: torch.Tensor) -> torch.Tensor:
    """Pillow's ``Image.blend``: ``degenerate + factor * (images - degenerate)``,
    clipped to ``[0, 255]`` and truncated to an integer, as its C code does."""
    factor = factor.to(images.dtype).view(-1, 1, 1, 1)
    return (degenerate + factor * (images - degenerate)).clamp_(0, 255).trunc_()


def luma(images: torch.Tensor) -> torch.Tensor:
    """Pillow's ``convert('L')`` of RGB images: ``(N, 3, H, W)`` -> ``(N, 1, H, W)``."""
    r, g, b = images.unbind(1)
    weighted = r * _LUMA_WEIGHTS[0] + g * _LUMA_WEIGHTS[1] + b * _LUMA_WEIGHTS[2]
    return torch.floor((weighted + 0x8000) / 65536).unsqueeze(1)


def adjust_brightness(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``ImageEnhance.Brightness``: blend with black."""
    return _blend(torch.zeros_like(images), images, factor)


def adjust_contrast(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``ImageEnhance.Contrast``: blend with the image's mean luma, rounded."""
    mean = torch.floor(luma(images).mean(dim=(1, 2, 3), keepdim=True,
                                         dtype=torch.float64) + 0.5).to(images.dtype)
    return _blend(mean.expand_as(images), images, factor)


def adjust_saturation(images: torch.Tensor, factor: torch.Tensor) -> torch.Tensor:
    """``ImageEnhance.Color``: blend with the image's luma."""
    return _blend(luma(images).expand_as(images), images, factor)


def adjust_hue(images: torch.Tensor, hue_factor: torch.Tensor) -> torch.Tensor:
    """``mmcv.adjust_hue`` (Pillow backend): Pillow's 8-bit HSV, hue channel shifted
    by ``uint8(hue_factor * 255)`` modulo 256, back to RGB. The single and double
    precision steps follow Pillow's C code (``Convert.c``), so the rounding matches."""
    f32, f64 = torch.float32, torch.float64
    r, g, b = images.to(f64).unbind(1)
    maxc = torch.maximum(r, torch.maximum(g, b))
    minc = torch.minimum(r, torch.minimum(g, b))
    grey = maxc == minc
    span = torch.where(grey, 1.0, maxc - minc).to(f32)
    sat = span / torch.where(grey, 1.0, maxc).to(f32)
    rc, gc, bc = ((maxc - c).to(f32) / span for c in (r, g, b))
    rc, gc, bc = rc.to(f64), gc.to(f64), bc.to(f64)
    hue = torch.where(r == maxc, bc - gc,
                      torch.where(g == maxc, 2.0 + rc - bc, 4.0 + gc - rc)).to(f32)
    hue = torch.fmod(hue.to(f64) / 6.0 + 1.0, 1.0).to(f32).to(f64)
    h8 = torch.where(grey, 0.0, (hue * 255.0).trunc().clamp(0, 255))
    s8 = torch.where(grey, 0.0, (sat.to(f64) * 255.0).trunc().clamp(0, 255))
    # numpy's uint8(x) of a float truncates toward zero, then wraps modulo 256.
    shift = (hue_factor.to(f64) * 255).trunc().view(-1, 1, 1)
    h8 = torch.remainder(h8 + shift, 256)

    sector = torch.floor(h8 * 6.0 / 255.0)
    frac = (h8 * 6.0 / 255.0 - sector).to(f32)
    fs = (s8 / 255.0).to(f32)
    v = maxc
    # C's round(): half away from zero; all values here are >= 0.
    p = torch.floor(v * (1.0 - fs.to(f64)) + 0.5).clamp(0, 255)
    q = torch.floor(v * (1.0 - (fs * frac).to(f64)) + 0.5).clamp(0, 255)
    t = torch.floor(v * (1.0 - fs.to(f64) * (1.0 - frac.to(f64))) + 0.5).clamp(0, 255)
    sector = torch.remainder(sector, 6)

    def pick(*values):  # the value of each of the six hue sectors
        out = values[5]
        for k in range(4, -1, -1):
            out = torch.where(sector == k, values[k], out)
        return out

    out = torch.stack([pick(v, q, p, p, t, v), pick(t, v, v, q, p, p),
                       pick(p, p, t, v, v, q)], dim=1)
    out = torch.where((s8 == 0).unsqueeze(1), v.unsqueeze(1), out)
    return out.to(images.dtype)


def grayscale(images: torch.Tensor, rgb_weights: torch.Tensor) -> torch.Tensor:
    """mmcv's ``RandomGrayscale(keep_channels=True)`` when it fires: the normalised
    weighted channel sum, truncated, on all three channels. ``rgb_weights``:
    ``(3,)`` in RGB order."""
    weights = (rgb_weights.double() / rgb_weights.double().sum()).view(1, 3, 1, 1)
    # float64 as mmcv's numpy sum: in float32 a grey pixel (v, v, v) can land just
    # under v and truncate to v - 1 where mmcv keeps v, or the other way round.
    grey = (images.double() * weights).sum(dim=1, keepdim=True).trunc_()
    return grey.to(images.dtype).expand_as(images).clone()


def solarize(images: torch.Tensor, threshold: float) -> torch.Tensor:
    """``mmcv.solarize``: invert the pixels at or above ``threshold``."""
    return torch.where(images < threshold, images, 255 - images)


def box_blur_radius(sigma: torch.Tensor, passes: int = 3) -> torch.Tensor:
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


def _box_blur_taps(radius: torch.Tensor, max_whole: int) -> torch.Tensor:
    """``(N, 2 * max_whole + 3)`` integer tap weights of Pillow's extended box filter,
    in its 24-bit fixed point: the ``2l + 1`` inner taps weigh ``ww = 2**24 / (2r + 1)``
    (truncated), the two outer ones ``fw``, the remainder split in two."""
    whole = radius.floor()
    ww = torch.floor(float(1 << 24) / (radius * 2 + 1)).long()
    fw = ((1 << 24) - (whole.long() * 2 + 1) * ww) // 2
    offsets = torch.arange(-max_whole - 1, max_whole + 2).abs()
    inner = offsets[None] <= whole.long()[:, None]
    outer = offsets[None] == whole.long()[:, None] + 1
    return torch.where(inner, ww[:, None], torch.where(outer, fw[:, None], 0))


def gaussian_blur(images: torch.Tensor, sigma: torch.Tensor, passes: int = 3) -> torch.Tensor:
    """Pillow's ``ImageFilter.GaussianBlur(radius=sigma)``, per sample: ``passes``
    horizontal extended box blurs, then ``passes`` vertical ones, each on
    edge-replicated borders and rounded to uint8 as Pillow stores it. The sums run
    in int64, exactly as Pillow's fixed-point ones."""
    if images.shape[0] == 0:
        return images
    radius = box_blur_radius(sigma.cpu(), passes)
    taps = _box_blur_taps(radius, int(radius.floor().max())).to(images.device)
    width = taps.shape[1]
    pad = width // 2
    taps = taps.view(-1, 1, 1, width)
    out = images.long()
    for _ in range(2):  # horizontal passes, then the same on the transposed image
        size = out.shape[-1]
        # edge-replicating gather: columns -pad .. size - 1 + pad, clamped
        columns = torch.arange(-pad, size + pad, device=images.device).clamp_(0, size - 1)
        for _ in range(passes):
            padded = out.index_select(-1, columns)
            acc = sum(padded[..., k:k + size] * taps[..., k:k + 1] for k in range(width))
            out = (acc + (1 << 23)) >> 24
        out = out.transpose(-1, -2)
    return out.contiguous().to(images.dtype)
