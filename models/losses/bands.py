"""Losses that do not reward fading: the teacher's change to the photo, band by band, and its colour.

L1 regression averages what a network cannot predict: where the teacher draws a stroke the
network cannot place exactly, the cheapest answer is a faint one, and a 50 % blend of photo
and teacher already scores a clone ratio of 0.5. :mod:`benchmarks.bands` measures that fading
per band of a Laplacian pyramid of the luminance: the gain G_k = ⟨N_k − P_k, T_k − P_k⟩ /
|T_k − P_k|² and the amplitude A_k = |N_k − P_k| / |T_k − P_k| (P the photo, T the teacher,
N the network). This module is the same pyramid in torch (``cv2.pyrDown``/``cv2.pyrUp``:
5-tap binomial kernel, reflect-101 borders) and two terms built on it:

- the **energy deficit** of band k: the mean over pixels of |RMS_local(N_k − P_k) −
  RMS_local(T_k − P_k)|, the local RMS over a (2r+1)² window of the band at its own resolution
  (about 2–3 wavelengths). A faded copy (N − P = g (T − P), g < 1) misses (1 − g) of the
  teacher's local energy and pays it; a stroke of the right strength drawn a pixel off costs
  little, where L1 charges it twice. In 0–1 gray levels, so its weight compares with L1's.
- the **gain deficit** of band k: max(0, 1 − G_k), G_k pooled over the batch as the
  benchmark pools it over pictures. Dimensionless.

:func:`chroma_loss` is the colour term for monochrome styles: the mean |C(N) − C(T)| with C(x)
the chroma part of RGB (x minus its mean over the channels); a grey teacher has C(T) = 0, so a
tinted clone pays its tint on every pixel, the same in every colour.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from models.networks.features import luminance
from realtime.errors import UserError

LEVELS = 5  # as benchmarks.bands: 4 detail bands and the low-pass rest
_EVEN = (1.0 / 16, 4.0 / 16, 6.0 / 16, 4.0 / 16, 1.0 / 16)  # cv2.pyrDown's kernel


def _pad(x: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """Reflect-101 padding (OpenCV's BORDER_DEFAULT); a side of one pixel is replicated instead."""
    mode = "reflect" if min(x.shape[-2:]) > max(left, right, top, bottom) else "replicate"
    return F.pad(x, (left, right, top, bottom), mode=mode)


def pyr_down(x: torch.Tensor) -> torch.Tensor:
    """``cv2.pyrDown`` of every channel of an N×C×H×W tensor: 5×5 binomial blur, every other
    pixel (output ⌈H/2⌉ × ⌈W/2⌉)."""
    n, c, h, w = x.shape
    k = x.new_tensor(_EVEN)
    y = _pad(x.reshape(n * c, 1, h, w), 2, 2, 2, 2)
    y = F.conv2d(y, k.view(1, 1, 1, 5), stride=(1, 2))
    y = F.conv2d(y, k.view(1, 1, 5, 1), stride=(2, 1))
    return y.reshape(n, c, y.shape[-2], y.shape[-1])


def _up_axis(x: torch.Tensor, size: int, dim: int) -> torch.Tensor:
    """One axis of ``cv2.pyrUp``: even outputs (s[i−1] + 6 s[i] + s[i+1]) / 8, odd (s[i] + s[i+1]) / 2,
    with s[−1] = s[1] and s[m] = s[m − 1] at the borders (as OpenCV does)."""
    m = x.shape[dim]
    if m == 1:
        return x.repeat_interleave(size, dim=dim)
    # OpenCV's pyrUp mirrors the first sample (reflect-101) and repeats the last one
    first, last = x.narrow(dim, 1, 1), x.narrow(dim, m - 1, 1)
    s = torch.cat((first, x, last), dim=dim)
    lo, mid, hi = s.narrow(dim, 0, m), s.narrow(dim, 1, m), s.narrow(dim, 2, m)
    even, odd = (lo + 6 * mid + hi) / 8, (mid + hi) / 2
    both = torch.stack((even, odd), dim=dim + 1)
    shape = list(x.shape)
    shape[dim] = 2 * m
    return both.reshape(shape).narrow(dim, 0, size)


def pyr_up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """``cv2.pyrUp(x, dstsize)`` of an N×C×h×w tensor to ``size`` = (H, W), H in {2h − 1, 2h}."""
    return _up_axis(_up_axis(x, size[0], 2), size[1], 3)


def laplacian_pyramid(x: torch.Tensor, levels: int = LEVELS) -> list[torch.Tensor]:
    """:func:`benchmarks.bands.laplacian_pyramid` of each channel: ``levels`` tensors, finest
    first, band k at 1/2^k of the size; the last one the blurred rest."""
    if levels < 1:
        raise ValueError(f"a pyramid needs at least one level, got {levels}")
    if min(x.shape[-2:]) < 2 ** (levels - 1):
        raise ValueError(f"a {levels}-level pyramid needs at least {2 ** (levels - 1)} px a side, got {tuple(x.shape[-2:])}")
    bands = []
    g = x
    for _ in range(levels - 1):
        down = pyr_down(g)
        bands.append(g - pyr_up(down, (g.shape[-2], g.shape[-1])))
        g = down
    bands.append(g)
    return bands


def luminance_bands(rgb01: torch.Tensor, levels: int = LEVELS) -> list[torch.Tensor]:
    """The pyramid of the Rec. 601 luma (benchmarks.bands.luminance, on the 0–1 scale)."""
    return laplacian_pyramid(luminance(rgb01), levels)


def local_rms(d: torch.Tensor, radius: int, eps: float = 1e-3) -> torch.Tensor:
    """√(mean of d² over a (2r+1)² window + eps²), windows cut at the borders."""
    e = F.avg_pool2d(d * d, 2 * radius + 1, stride=1, padding=radius, count_include_pad=False)
    return torch.sqrt(e + eps * eps)


@dataclass(frozen=True)
class BandLossConfig:
    """Which bands, with what weight each (``weights[i]`` for ``bands[i]``), and the two terms' weights."""

    bands: tuple[int, ...] = (1, 2, 3)  # benchmarks.clone_detail judges bands 1–3
    weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    energy: float = 1.0  # the energy deficit (0–1 gray levels, like L1)
    gain: float = 0.0  # the gain deficit max(0, 1 − G_k) (dimensionless)
    radius: int = 3  # local RMS window (2r+1)² at the band's own resolution
    levels: int = LEVELS

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.bands):
            raise ValueError(f"one weight per band: {len(self.bands)} bands, {len(self.weights)} weights")
        if any(not 0 <= k < self.levels - 1 for k in self.bands):
            raise ValueError(f"bands are 0–{self.levels - 2} (the detail bands of a {self.levels}-level pyramid), got {self.bands}")


def band_terms(out: torch.Tensor, target: torch.Tensor, photo: torch.Tensor, cfg: BandLossConfig = BandLossConfig()
               ) -> dict[str, torch.Tensor]:
    """Per judged band k (keys ``energy_k``, ``gain_k``): the energy deficit and 1 − G_k (unclipped,
    pooled over the batch), and ``total`` = Σ_k w_k (energy · energy_k + gain · max(0, gain_k)).
    All three are 0–1 RGB N×3×H×W; ``photo`` and ``target`` get no gradient."""
    with torch.no_grad():
        p_bands, t_bands = luminance_bands(photo, cfg.levels), luminance_bands(target, cfg.levels)
    n_bands = luminance_bands(out, cfg.levels)
    terms: dict[str, torch.Tensor] = {}
    total = out.new_zeros(())
    for k, w in zip(cfg.bands, cfg.weights):
        dn, dt = n_bands[k] - p_bands[k], t_bands[k] - p_bands[k]
        energy = (local_rms(dn, cfg.radius) - local_rms(dt, cfg.radius)).abs().mean()
        shortfall = 1 - (dn * dt).sum() / (dt * dt).sum().clamp_min(1e-8)
        terms[f"energy_{k}"], terms[f"gain_{k}"] = energy, shortfall
        if cfg.energy:
            total = total + w * cfg.energy * energy
        if cfg.gain:
            total = total + w * cfg.gain * shortfall.clamp_min(0)
    terms["total"] = total
    return terms


def band_loss(out: torch.Tensor, target: torch.Tensor, photo: torch.Tensor, cfg: BandLossConfig = BandLossConfig()) -> torch.Tensor:
    """:func:`band_terms`' total: 0 for the teacher itself, more for a faded copy of it."""
    return band_terms(out, target, photo, cfg)["total"]


@torch.no_grad()
def change_sums(out: torch.Tensor, target: torch.Tensor, photo: torch.Tensor, levels: int = LEVELS) -> torch.Tensor:
    """3 × ``levels`` sums over a batch, as :class:`benchmarks.bands.ChangeSums` adds them up:
    ⟨N_k − P_k, T_k − P_k⟩, |T_k − P_k|², |N_k − P_k|² (on the 0–1 scale). Add them over batches,
    then :func:`gain_amplitude`."""
    p, t, n = (luminance_bands(x, levels) for x in (photo, target, out))
    rows = [[((nk - pk) * (tk - pk)).sum(), ((tk - pk) ** 2).sum(), ((nk - pk) ** 2).sum()] for pk, tk, nk in zip(p, t, n)]
    return torch.tensor(rows, dtype=torch.float64).T


def gain_amplitude(sums: torch.Tensor) -> tuple[list[float], list[float]]:
    """G_k and A_k of :func:`change_sums`' totals (benchmarks.bands' gain and amplitude)."""
    cross, teacher, network = sums
    teacher = teacher.clamp_min(1e-12)
    return (cross / teacher).tolist(), (network / teacher).sqrt().tolist()


def chroma(rgb01: torch.Tensor) -> torch.Tensor:
    """The chroma part of RGB: each channel minus the mean of the three (0 for a grey pixel)."""
    return rgb01 - rgb01.mean(dim=1, keepdim=True)


def chroma_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean |C(out) − C(target)|: a tint on a grey teacher's clone costs its size on every pixel."""
    return (chroma(out) - chroma(target)).abs().mean()


def parse_bands(text: str) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """``"1,2,3"`` or ``"1:2,2:1,3:1"`` (band:weight) → (bands, weights); a band without a weight weighs 1."""
    bands, weights = [], []
    for part in (p.strip() for p in text.split(",") if p.strip()):
        k, _, w = part.partition(":")
        bands.append(int(k))
        weights.append(float(w) if w else 1.0)
    return tuple(bands), tuple(weights)


@dataclass(frozen=True)
class DetailLoss:
    """What the trainers add to their pixel loss: ``band`` × the band terms (:class:`BandLossConfig`,
    its ``energy`` and ``gain`` scaled by ``band``), ``chroma`` × :func:`chroma_loss` and ``range`` ×
    the raw output's squared excursion outside 0–1 (a fast student's paper white reached 12; through
    the guided filter's windows each channel's excess tints the strokes beside it). All off by
    default, so a recipe without the options trains as before."""

    band: float = 0.0
    band_config: BandLossConfig = BandLossConfig()
    chroma: float = 0.0
    range: float = 0.0  # × mean squared excursion of the raw output outside 0–1

    @property
    def active(self) -> bool:
        return bool(self.band or self.chroma or self.range)

    def __call__(self, out: torch.Tensor, target: torch.Tensor, photo: torch.Tensor, raw: torch.Tensor | None = None) -> torch.Tensor:
        """0–1 RGB batches; ``target`` and ``photo`` are constants. ``raw``: ``out`` before a clamp to
        0–1, which the chroma term then sees (a clamp passes no gradient to a tint above white)."""
        total = out.new_zeros(())
        if self.band:
            total = total + self.band * band_loss(out, target.detach(), photo.detach(), self.band_config)
        if self.chroma:
            total = total + self.chroma * chroma_loss(out if raw is None else raw, target.detach())
        if self.range:
            r = out if raw is None else raw
            total = total + self.range * (r - r.clamp(0, 1)).pow(2).mean()
        return total


def add_detail_args(p) -> None:
    """--band-weight, --band-energy, --band-gain, --bands, --band-radius, --chroma-weight, --range-weight (argparse)."""
    d = BandLossConfig()
    p.add_argument("--band-weight", type=float, default=0.0,
                   help="weight of the per-band loss (models/losses/bands.py): the local energy deficit of the change to "
                        "the photo in each --bands band, in 0-1 gray levels like L1 (0 = off)")
    p.add_argument("--band-energy", type=float, default=d.energy,
                   help="within the band loss, the weight of the local energy deficit (default %(default)s)")
    p.add_argument("--band-gain", type=float, default=d.gain,
                   help="within the band loss, the weight of max(0, 1 - G_k), pooled over the batch (default %(default)s)")
    p.add_argument("--bands", default=",".join(map(str, d.bands)),
                   help="Laplacian bands of the luminance the band loss sees, k or k:weight (0 = finest; default %(default)s)")
    p.add_argument("--band-radius", type=int, default=d.radius, help="local RMS window radius at each band's own resolution")
    p.add_argument("--chroma-weight", type=float, default=0.0,
                   help="weight of |chroma(out) - chroma(teacher)| (keeps a grey teacher's clone grey; 0 = off)")
    p.add_argument("--range-weight", type=float, default=0.0,
                   help="weight of the unclamped output's squared excursion outside 0-1 (0 = off)")


def detail_options(a) -> DetailLoss:
    """The DetailLoss that add_detail_args' options describe (a bad value: UserError)."""
    try:
        bands, weights = parse_bands(a.bands)
        cfg = BandLossConfig(bands=bands, weights=weights, energy=a.band_energy, gain=a.band_gain, radius=a.band_radius)
    except ValueError as exc:
        raise UserError(f"--bands {a.bands!r}: {exc}") from None
    if min(a.band_weight, a.band_energy, a.band_gain, a.chroma_weight, a.range_weight) < 0 or a.band_radius < 1:
        raise UserError("--band-weight, --band-energy, --band-gain, --chroma-weight and --range-weight must be >= 0, "
                        "--band-radius >= 1")
    return DetailLoss(a.band_weight, cfg, a.chroma_weight, a.range_weight)
