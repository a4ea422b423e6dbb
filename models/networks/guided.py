"""Run a filter network at a fraction of the frame size and bring it back with a guided filter.

Fast CPU filters (Wu et al. 2018, "Fast End-to-End Trainable Guided Filter"; He & Sun 2015):
the network sees the frame shrunk by ``factor``; a guided filter fitted at that low size
expresses the network's output, in every small window, as ``A · luminance + b``; ``A`` and
``b`` are smooth, so they are upsampled and applied to the full-size luminance. The output
keeps the network's colours and textures and the input's sharp edges, at about 1/factor² of
the network's cost.

What a locally linear map cannot draw (a cartoon's lightness bands switching at a threshold, a
1–2 px outline, a brush patch's border) an optional :class:`DetailHead` adds back: a per-pixel
MLP at full size on the guided output, the frame's own colour and lightness, the lightness
detail below the low size and a few learned 3×3 edge channels. Everything is ordinary tensor
ops, so it exports into the same ONNX graph (the ONNX file stays the whole interface) and it
can be trained end to end.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from models.networks.features import ToneFeatures, gaussian_kernel, luminance, separable_blur, to_grey
from models.networks.registry import arch_name, build_model, register

@dataclass
class GuidedConfig:
    arch: str = "transformer_net"  # the inner network's architecture (see models.networks.registry.ARCHS)
    inner: dict[str, Any] = field(default_factory=dict)  # its config fields
    factor: int = 2  # the network runs at 1/factor of the frame's height and width
    radius: int = 2  # guided-filter window radius, in low-resolution pixels
    eps: float = 1e-3  # regularisation: larger = smoother, closer to plain upsampling
    detail: int = 0  # hidden channels of the full-size DetailHead (0 = none)
    detail_edges: int = 4  # its learned 3×3 edge channels of the lightness
    detail_tones: int = 0  # its fixed sin/cos lightness channels, 1..F cycles (costly at full size)
    upsample: str = "guided"  # "guided": locally linear in the lightness; "detail": see detail_upsample; "gains": GainMaps
    gain_hidden: int = 8  # "gains": hidden channels of the low-size head that draws the gain maps
    gain_edges: tuple[float, ...] = ()  # "gains": σ (full-size px) of lightness edges (blur − pixel) with maps too
    fine: bool = False  # a FineHead: the network's own band below the low size, drawn as sub-pixels
    colour: bool = False  # a ColourHead: a per-code affine colour map of the low-size input, beside the network

    def __post_init__(self) -> None:  # a checkpoint's JSON gives lists
        self.gain_edges = tuple(float(v) for v in self.gain_edges)
        if any(v <= 0 for v in self.gain_edges):
            raise ValueError(f"gain_edges are blur σ in pixels, > 0; got {self.gain_edges}")


def box(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a (2r+1)² window, windows cut at the borders (no zero padding counted)."""
    return F.avg_pool2d(x, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def guided_upsample(low_in: torch.Tensor, low_out: torch.Tensor, full_in: torch.Tensor, radius: int, eps: float) -> torch.Tensor:
    """Fit ``low_out ≈ A·lum(low_in) + b`` locally, apply A and b to lum(full_in). 0–1 inputs."""
    guide = luminance(low_in)
    mean_i, mean_p = box(guide, radius), box(low_out, radius)
    cov = box(guide * low_out, radius) - mean_i * mean_p
    var = box(guide * guide, radius) - mean_i * mean_i
    a = cov / (var + eps)
    b = mean_p - a * mean_i
    a, b = box(a, radius), box(b, radius)
    size = full_in.shape[-2:]
    a = F.interpolate(a, size=size, mode="bilinear", align_corners=False)
    b = F.interpolate(b, size=size, mode="bilinear", align_corners=False)
    return a * luminance(full_in) + b


def detail_upsample(low_in: torch.Tensor, low_out: torch.Tensor, full_in: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Bilinear upsampling of ``low_out`` plus ``gain`` × the frame's own detail below the low
    size (``full_in`` − its bilinear-upsampled shrunk copy). 0–1 inputs; ``gain`` broadcasts.

    Why it exists: upsample the teacher's *own* output shrunk 3× (a perfect network) and
    compare with the teacher at full size on the held-out faces (clone ratio, 19 images;
    ``python -m benchmarks.upsample_bound``). The guided filter's two box means over 5×5 low
    pixels blur the bands and colour borders a student has to draw: cartoon 0.39, oil 0.52;
    bilinear 0.27 and 0.35; bilinear + the frame's detail 0.24 and 0.37. But a trained student
    is no perfect network: with this upsampler the bundled cartoon student's recipe scored
    0.83, against 0.78 with the guided filter (its network's error at the low size dominates,
    and the guided filter hides some of it), so the bundled students keep ``"guided"``.
    """
    # bilinear upsampling is linear: up(out) − gain·up(in) = up(out − gain·in), one upsampling
    # instead of two (1.2 of the cartoon student's 27 ms at 1280×720)
    coarse = F.interpolate(low_out - gain * low_in, size=full_in.shape[-2:], mode="bilinear", align_corners=False)
    return coarse + gain * full_in


class DetailHead(nn.Module):
    """A full-size, per-pixel correction of the guided output: ``out = guided + MLP(features)``.

    Features per pixel: the guided output (3), the frame's colour (3: a lightness guide cannot
    tell apart two colours of one lightness), its lightness L, ``L − upsample(L at the low
    size)`` (the detail the network never saw), ``edges`` learned 3×3 channels of L and
    optionally ``tones`` sin/cos channels of L. The MLP is two 1×1 convs, the hidden layer
    biased per latent code, so a variant can move its thresholds. Its last layer starts at
    zero: wrapped around a trained student, the head starts as the identity.

    Cost, in a factor-3 cartoon student exported to ONNX at 640×480 on 2 CPU cores: 20.2 ms
    without a head, 34.5 ms with 16 hidden and 4 edge channels, 25.7 ms with 4 hidden and no
    edges; tones add about 1.5 ms per frequency (sin and cos of every pixel). Its measured gain
    (cartoon 0.78 → 0.66 in 1200 more steps) was mostly the extra steps: the same student
    without a head, 3000 more steps, reached 0.60 (benchmarks/results/fast-students-cpu). So
    the bundled students have none.
    """

    def __init__(self, hidden: int, edges: int = 4, tones: int = 0, code_dim: int = 0) -> None:
        super().__init__()
        self.edges = nn.Conv2d(1, edges, 3, padding=1, padding_mode="replicate") if edges else None
        self.tones = ToneFeatures(tones) if tones else None
        self.hidden = nn.Conv2d(3 + 3 + 2 + edges + 2 * tones, hidden, 1)
        self.code_bias = nn.Linear(code_dim, hidden, bias=False) if code_dim else None
        self.out = nn.Conv2d(hidden, 3, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, guided: torch.Tensor, full: torch.Tensor, low: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        """0–1 images: ``guided`` and ``full`` at full size, ``low`` the network's input."""
        lum = luminance(full)
        coarse = F.interpolate(luminance(low), size=full.shape[-2:], mode="bilinear", align_corners=False)
        feats = [guided, full, lum, lum - coarse]
        if self.edges is not None:
            feats.append(self.edges(lum))
        if self.tones is not None:
            feats.append(self.tones(full))
        h = self.hidden(torch.cat(feats, dim=1))
        if self.code_bias is not None and code is not None:
            h = h + self.code_bias(code)[:, :, None, None]
        return guided + self.out(F.relu(h))


class FineEdges(nn.Module):
    """``blur_σ(L) − L`` of the lightness L at full size, one channel per σ: positive on a pixel
    darker than around it (a line, an outline), ×10 for about unit scale. One separable
    Gaussian (⌈3σ⌉ taps each side) per σ, replicate border."""

    def __init__(self, sigmas: tuple[float, ...]) -> None:
        super().__init__()
        self.count = len(sigmas)
        for i, s in enumerate(sigmas):
            self.register_buffer(f"k{i}", gaussian_kernel(s).view(1, 1, 1, -1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lum = luminance(x)
        out = []
        for i in range(self.count):
            b = separable_blur(lum, getattr(self, f"k{i}"))
            out.append((b - lum) * 10.0)
        return torch.cat(out, dim=1)


class GainMaps(nn.Module):
    """Bilinear upsampling plus the frame's own fine detail, its dark and its bright half each
    weighed by a gain *map* the network draws at its low size:
    ``out = up(y) + g·((1 + up(m₀))·min(D, 0) + (1 + up(m₁))·max(D, 0))``, D the frame's lightness
    minus its shrunk-and-grown copy (the detail the network never saw), ``g`` the per-channel gain
    of ``detail_upsample`` and m the output of a two-layer 3×3 head on the network's low-size input
    and output (biased per latent code). With ``edges`` (blur σ), the two halves of each
    :class:`FineEdges` channel get maps of their own too (no 1): lines the teacher draws darker.

    Why (cartoon, held-out faces at its work size, ``python -m benchmarks.upsample_bound``): a
    student perfect at a third of the size, brought back with ``detail_upsample``'s one gain,
    makes G_1 0.60 / A_1 0.65 of the teacher's band-1 change (the goal: 0.75 and 0.85): one gain
    cannot flatten the skin's texture and keep an outline. Maps fitted to the teacher by least
    squares make 0.70 / 0.74; trained end to end (the low-size output is free too), the shipped
    student went from G_1 0.30–0.60 to 0.61–0.83. Its last layer starts at zero: around a
    trained ``detail`` student (``--init``) it starts as that student with the detail taken in
    lightness.
    """

    def __init__(self, hidden: int, edges: tuple[float, ...] = (), code_dim: int = 0) -> None:
        super().__init__()
        self.edges = FineEdges(edges) if edges else None
        self.maps = 2 + 2 * len(edges)
        self.hidden = nn.Conv2d(6, hidden, 3, padding=1, padding_mode="replicate")
        self.code_bias = nn.Linear(code_dim, hidden, bias=False) if code_dim else None
        self.out = nn.Conv2d(hidden, self.maps, 3, padding=1, padding_mode="replicate")
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, low_in: torch.Tensor, low_out: torch.Tensor, full_in: torch.Tensor, gain: torch.Tensor,
                code: torch.Tensor | None) -> torch.Tensor:
        """0–1 images: the network's input and output at the low size, the frame at full size."""
        h = self.hidden(torch.cat([low_in, low_out], dim=1))
        if self.code_bias is not None and code is not None:
            h = h + self.code_bias(code)[:, :, None, None]
        m = self.out(F.relu(h))
        # one bilinear upsampling of the output, the input's lightness and the maps together
        up = F.interpolate(torch.cat([low_out, luminance(low_in), m], dim=1), size=full_in.shape[-2:], mode="bilinear",
                           align_corners=False)
        d = luminance(full_in) - up[:, 3:4]
        out = up[:, :3] + gain * ((1 + up[:, 4:5]) * d.clamp(max=0) + (1 + up[:, 5:6]) * d.clamp(min=0))
        if self.edges is not None:
            e, maps = self.edges(full_in), up[:, 6:]
            out = out + (maps[:, 0::2] * e.clamp(max=0) + maps[:, 1::2] * e.clamp(min=0)).sum(dim=1, keepdim=True)
        return out


class FineHead(nn.Module):
    """The network's *own* detail below the low size: a 3×3 convolution on the inner network's
    last hidden layer (``features``) draws ``factor``² sub-pixels per colour at the low size,
    rearranged into the full-size grid (sub-pixel convolution, Shi et al. 2016, "ESPCN"; ONNX
    DepthToSpace) and added to the upsampled output.

    Why: every upsampler above brings back only the *frame's* detail below the low size. A
    painting style's finest band (its 2–4 px stroke edges and grout) is not the photo's, so a
    student at half the size could only tint the photo's own texture there: held-out S_0 (RMS of
    band 0 against the painting's) 0.20 for candy's student, 0.24 psychedelic's, 0.35 mosaic's,
    against 0.63, 0.74 and 0.66 for their full networks (benchmarks/results/style-texture-s19-cpu).
    The head costs one 3×3 convolution at the low size (``width`` → 3·factor² channels) and one
    rearrangement and addition at full size. Its weights start at zero: around a trained student
    (``--init``) it starts as that student."""

    def __init__(self, channels: int, factor: int) -> None:
        super().__init__()
        self.factor = factor
        self.conv = nn.Conv2d(channels, 3 * factor * factor, 3, padding=1, padding_mode="replicate")
        nn.init.zeros_(self.conv.weight)
        nn.init.zeros_(self.conv.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``features`` at the low size → a 3-channel full-size residual (the network's units)."""
        return F.pixel_shuffle(self.conv(features), self.factor)


class ColourHead(nn.Module):
    """A colour map the network's own features cannot draw over a flat region: ``M·x + c`` of the
    network's low-size input ``x``, M a 3×3 matrix and c a colour, per latent code (a linear layer
    of the code vector draws both; one M and c for a network without codes), added to the
    network's output before the upsampler. Starts at zero: around a trained student (``--init``)
    it starts as that student.

    Why: the clones' UNets normalise their features per image (GroupNorm) and see ~60 px around a
    pixel, so over a region flatter than that they draw the teacher's point-wise colour step
    5–10 grey levels short. The watercolour's vivid style lifts every colour toward the paper
    (``out + 0.1·(250 − out)``): on a flat grey its student gave 124.0 and 195.3 where the teacher
    gives 131.8 and 203.7 (the full network 126.5 and 197.5); on the held-out talking head before
    its plain wall (liveportrait__d18, 15 of the 19 held-out pictures) a bias of −3.8 grey levels
    over the frame and an L1 ratio of 0.557. 1500 steps with a third of the crops blurred by σ
    4–32 (``--defocus``) took it to 0.521 (125.3 / 197.1 on the greys); the same leg with this
    head to 0.478 (126.6 / 199.9, bias −2.4). 12 numbers per code, one 3×3 matrix product at the
    low size."""

    def __init__(self, code_dim: int) -> None:
        super().__init__()
        self.map = nn.Linear(code_dim, 12) if code_dim else None
        self.fixed = nn.Parameter(torch.zeros(12)) if not code_dim else None
        if self.map is not None:
            nn.init.zeros_(self.map.weight)
            nn.init.zeros_(self.map.bias)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None) -> torch.Tensor:
        """The N×3×H×W change for input ``x`` (the network's units) and code vectors ``code`` (N × code_dim)."""
        if self.map is not None:
            if code is None:
                raise ValueError("this colour head is per latent code: pass the code vectors")
            p = self.map(code)
        else:
            p = self.fixed[None].expand(x.shape[0], -1)
        n, _, h, w = x.shape
        m, c = p[:, :9].reshape(-1, 3, 3), p[:, 9:]
        return torch.bmm(m.expand(n, -1, -1), x.reshape(n, 3, h * w)).reshape(n, 3, h, w) + c.expand(n, -1)[:, :, None, None]


UPSAMPLERS = ("guided", "detail", "gains")


@register("guided", GuidedConfig)
class GuidedUpsample(nn.Module):
    """``net`` at 1/factor size + guided upsampling; same input/output contract as ``net``."""

    def __init__(self, config: GuidedConfig | None = None, net: nn.Module | None = None) -> None:
        super().__init__()
        self.config = cfg = config or GuidedConfig()
        if cfg.factor < 1 or cfg.radius < 1 or cfg.eps <= 0:
            raise ValueError("factor and radius must be ≥ 1 and eps > 0")
        if cfg.detail < 0 or cfg.detail_edges < 0 or not 0 <= cfg.detail_tones <= 32:
            raise ValueError("detail and detail_edges must be ≥ 0 and detail_tones 0–32")
        if cfg.upsample not in UPSAMPLERS:
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLERS)}, not {cfg.upsample!r}")
        self.net = net if net is not None else build_model(cfg.arch, dict(cfg.inner))
        code_dim = self.net.config.code_dim if getattr(self.net.config, "latent_codes", 0) else 0
        self.detail = DetailHead(cfg.detail, cfg.detail_edges, cfg.detail_tones, code_dim) if cfg.detail else None
        # "detail" and "gains": the share of the frame's fine detail kept, per colour channel (trained)
        self.detail_gain = nn.Parameter(torch.full((1, 3, 1, 1), 0.5)) if cfg.upsample in ("detail", "gains") else None
        self.gains = GainMaps(cfg.gain_hidden, cfg.gain_edges, code_dim) if cfg.upsample == "gains" else None
        self.fine: FineHead | None = None
        if cfg.fine:
            if cfg.factor < 2:
                raise ValueError("fine draws the detail below the low size: it needs factor ≥ 2")
            self.fine = FineHead(self.net.feature_channels, cfg.factor)
        self.colour = ColourHead(code_dim) if cfg.colour else None
        self.input_range = self.net.input_range
        self.size_multiple = self.net.size_multiple * cfg.factor
        self.scale = 255.0 if self.input_range == "0-255" else 1.0

    @classmethod
    def around(cls, net: nn.Module, factor: int = 2, radius: int = 2, eps: float = 1e-3) -> "GuidedUpsample":
        """Wrap an existing network (its weights are kept and shared)."""
        return cls(GuidedConfig(arch_name(net), dataclasses.asdict(net.config), factor, radius, eps), net=net)

    def forward(self, x: torch.Tensor, code: torch.Tensor | None = None, grey: torch.Tensor | None = None) -> torch.Tensor:
        """``code``: the inner UNet's code vectors; ``grey``: its :meth:`~models.networks.unet.UNet.grey_weights`
        for the code indices (a monochrome code's output is grey, after the upsampler and head too)."""
        f = self.config.factor
        low = F.avg_pool2d(x, f) if f > 1 else x
        features = self.net.features(low, code)  # the last hidden layer (TransformerNet, UNet), then the picture
        y = self.net.draw(low, features, grey)
        if self.colour is not None:
            y = to_grey(y + self.colour(low, code), grey)
        s = 1.0 / self.scale
        if self.gains is not None:
            out = self.gains(low * s, y * s, x * s, self.detail_gain, code)
        elif self.detail_gain is not None:
            out = detail_upsample(low * s, y * s, x * s, self.detail_gain)
        else:
            out = guided_upsample(low * s, y * s, x * s, self.config.radius, self.config.eps)
        if self.fine is not None:
            out = out + self.fine(features) * s
        if self.detail is not None:
            out = self.detail(out, x * s, low * s, code)
        if self.detail_gain is not None or self.detail is not None or self.fine is not None:
            # the frame's own detail and the head put its colour back: grey again (the guided filter
            # alone keeps a grey output grey: the same a·lum + b on three equal channels; ~0.5 ms saved;
            # the fine head draws three channels of its own)
            out = to_grey(out, grey)
        return out * self.scale
