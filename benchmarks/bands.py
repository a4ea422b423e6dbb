"""Detail measured band by band: a Laplacian pyramid of the luminance and what the benchmarks
read off it (:mod:`benchmarks.clone_detail`, :mod:`benchmarks.style_texture`).

The pyramid has :data:`LEVELS` levels, k = 0 the finest: bands 0 … LEVELS−2 are the detail a
``cv2.pyrDown``/``cv2.pyrUp`` step removes (band k holds wavelengths of roughly 2^(k+1) to
2^(k+2) px: band 0 the finest grain and edges, band 3 shapes 16–32 px across) and the last
level is the blurred rest. The pyramid
is linear, so the band of a blend is the blend of the bands: the photo scores 0, a 50 % blend
of photo and teacher 0.5 and the teacher 1 on every measure of "how much of the teacher's
change" below, whatever the picture.

Every measure is pooled over pictures: sums of inner products and energies are added up over
all pictures first and divided at the end, so a large, detailed picture weighs more than a
flat one and one near-empty band of one picture cannot blow a ratio up.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

LEVELS = 5  # levels of the pyramid: 4 detail bands and the low-pass rest
EPS = 1e-9


def luminance(rgb: np.ndarray) -> np.ndarray:
    """H×W float32 luma (Rec. 601, 0–255) of an H×W×3 RGB image (uint8 or 0–255 float)."""
    return cv2.cvtColor(np.asarray(rgb, np.float32), cv2.COLOR_RGB2GRAY)


def laplacian_pyramid(gray: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """``levels`` float32 arrays, finest first: ``g_k − pyrUp(g_k+1)`` for the detail bands
    (g_0 = ``gray``, g_k+1 = pyrDown(g_k)), then the coarsest ``g`` itself. Adding the bands
    back up level by level gives ``gray`` again (to float rounding)."""
    if levels < 1:
        raise ValueError(f"a pyramid needs at least one level, got {levels}")
    g = np.asarray(gray, np.float32)
    if min(g.shape[:2]) < 2 ** (levels - 1):
        raise ValueError(f"a {levels}-level pyramid needs a picture of at least {2 ** (levels - 1)} px a side, got {g.shape[1]}x{g.shape[0]}")
    bands = []
    for _ in range(levels - 1):
        down = cv2.pyrDown(g)
        bands.append(g - cv2.pyrUp(down, dstsize=(g.shape[1], g.shape[0])))
        g = down
    bands.append(g)
    return bands


def luminance_bands(rgb: np.ndarray, levels: int = LEVELS) -> list[np.ndarray]:
    """:func:`laplacian_pyramid` of :func:`luminance`."""
    return laplacian_pyramid(luminance(rgb), levels)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` where ``den`` > 0, NaN where it is 0 (nothing to compare with)."""
    num, den = np.asarray(num, np.float64), np.asarray(den, np.float64)
    return np.where(den > EPS, num / np.maximum(den, EPS), np.nan)


@dataclass
class ChangeSums:
    """How a network's change to the photo (N − P) compares with its teacher's (T − P), band by
    band, summed over pictures: ``cross`` = ⟨N_k − P_k, T_k − P_k⟩, ``teacher`` = |T_k − P_k|²,
    ``network`` = |N_k − P_k|²."""

    levels: int = LEVELS
    cross: np.ndarray = field(init=False)
    teacher: np.ndarray = field(init=False)
    network: np.ndarray = field(init=False)
    pictures: int = 0

    def __post_init__(self) -> None:
        self.cross, self.teacher, self.network = (np.zeros(self.levels) for _ in range(3))

    def add(self, photo: np.ndarray, teacher: np.ndarray, network: np.ndarray) -> None:
        """One picture: three same-sized RGB images (the photo, the teacher's and the network's output)."""
        p, t, n = (luminance_bands(x, self.levels) for x in (photo, teacher, network))
        for k in range(self.levels):
            dt, dn = (t[k] - p[k]).astype(np.float64), (n[k] - p[k]).astype(np.float64)
            self.cross[k] += float(np.sum(dn * dt))
            self.teacher[k] += float(np.sum(dt * dt))
            self.network[k] += float(np.sum(dn * dn))
        self.pictures += 1

    def gain(self) -> np.ndarray:
        """G_k = ⟨N_k − P_k, T_k − P_k⟩ / |T_k − P_k|²: the share of the teacher's change the
        network makes, in the teacher's direction (the least-squares ``g`` of N − P ≈ g (T − P)).
        0 = the photo, 0.5 = a 50 % blend, 1 = the teacher; change the teacher does not make
        (or makes elsewhere) does not count."""
        return ratio(self.cross, self.teacher)

    def amplitude(self) -> np.ndarray:
        """A_k = |N_k − P_k| / |T_k − P_k|: how strong the network's change is, in any
        direction. With G_k it tells the teacher's detail (A ≈ G ≈ 1) from a blur of it
        (A ≈ G < 1) and from detail of the network's own (A > G)."""
        return np.sqrt(ratio(self.network, self.teacher))

    def share(self) -> np.ndarray:
        """|T_k − P_k|² / Σ_j |T_j − P_j|²: how much of the teacher's change lies in band k."""
        return ratio(self.teacher, np.full(self.levels, self.teacher.sum()))


def gain(photo: np.ndarray, teacher: np.ndarray, network: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """:meth:`ChangeSums.gain` of one picture."""
    sums = ChangeSums(levels)
    sums.add(photo, teacher, network)
    return sums.gain()


def amplitude(photo: np.ndarray, teacher: np.ndarray, network: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """:meth:`ChangeSums.amplitude` of one picture."""
    sums = ChangeSums(levels)
    sums.add(photo, teacher, network)
    return sums.amplitude()


def fit_coefficient(out: np.ndarray, photo: np.ndarray) -> float:
    """The least-squares ``a`` of out ≈ a · photo (0 when the photo's band is empty)."""
    o, p = np.asarray(out, np.float64).ravel(), np.asarray(photo, np.float64).ravel()
    pp = float(p @ p)
    return float(o @ p) / pp if pp > EPS else 0.0


@dataclass
class TextureSums:
    """The style network's own texture and stroke energy, band by band, summed over pictures:
    ``own`` = |L_k(out) − a_k L_k(photo)|² with a_k fitted per picture and band
    (:func:`fit_coefficient`), ``energy`` = |L_k(out)|², ``pixels`` the band's pixel count."""

    levels: int = LEVELS
    own: np.ndarray = field(init=False)
    energy: np.ndarray = field(init=False)
    pixels: np.ndarray = field(init=False)
    pictures: int = 0

    def __post_init__(self) -> None:
        self.own, self.energy, self.pixels = (np.zeros(self.levels) for _ in range(3))

    def add(self, photo: np.ndarray, out: np.ndarray) -> None:
        """One picture: the photo and the filter's output, same-sized RGB."""
        p, o = luminance_bands(photo, self.levels), luminance_bands(out, self.levels)
        for k in range(self.levels):
            ok, pk = o[k].astype(np.float64), p[k].astype(np.float64)
            rest = ok - fit_coefficient(ok, pk) * pk
            self.own[k] += float(np.sum(rest * rest))
            self.energy[k] += float(np.sum(ok * ok))
            self.pixels[k] += ok.size
        self.pictures += 1

    def own_texture(self) -> np.ndarray:
        """ν_k = |L_k(out) − a L_k(photo)| / |L_k(out)|: the share (as an amplitude, 0–1) of the
        output's band that is not the photo's band scaled: 0 = the photo's detail, only
        stronger or weaker; 1 = detail of the filter's own (strokes), none of the photo's."""
        return np.sqrt(ratio(self.own, self.energy))

    def rms(self) -> np.ndarray:
        """RMS of the output's band k over all pictures' pixels (gray levels)."""
        return np.sqrt(ratio(self.energy, self.pixels))


def band_rms(rgb: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """RMS of each luminance band of one picture (gray levels): a painting's stroke energy."""
    return np.array([float(np.sqrt(np.mean(b.astype(np.float64) ** 2))) for b in luminance_bands(rgb, levels)])


def own_texture(photo: np.ndarray, out: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """:meth:`TextureSums.own_texture` of one picture."""
    sums = TextureSums(levels)
    sums.add(photo, out)
    return sums.own_texture()


def mean_chroma(rgb: np.ndarray) -> float:
    """Mean CIE Lab chroma √(a² + b²) of an RGB image (0 = grey; a saturated red is ~100)."""
    lab = cv2.cvtColor(np.asarray(rgb, np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return float(np.mean(np.hypot(lab[..., 1], lab[..., 2])))
