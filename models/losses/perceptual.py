"""Perceptual (content) and style (Gram) losses, with two loss networks.

- :class:`VGG16Features`: the torchvision VGG16 ``features`` layout (same state-dict keys, so
  ``vgg16-397923af.pth`` loads without torchvision), returning relu1_2, relu2_2, relu3_3 and
  relu4_3. Needs the user's downloaded ImageNet weights.
- :class:`RandomFeatures`: no download at all. Random multi-scale convolution features
  (Ustyuzhaninov et al. 2017 showed one layer of random filters at several sizes captures
  texture statistics): the image and its 2×/4×/8× downsampled copies go through fixed random
  filter banks of several kernel sizes, then ReLU. Deterministic for a seed.

Both take RGB in 0–1 and return a list of feature maps, coarse-to-fine order not implied.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from models.losses.bands import laplacian_pyramid, luminance_bands
from models.losses.ringing import RingingLoss
from models.networks.features import gaussian_kernel, luminance, separable_blur
from realtime.errors import UserError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrix normalised by C·H·W (as in pytorch/examples): N×C×H×W → N×C×C."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (smoothness prior)."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def tone_loss(output: torch.Tensor, content: torch.Tensor, scale: int) -> torch.Tensor:
    """Mean square difference of the lightness averaged over ``scale``² blocks, divided by the
    content's: what zero-mean features cannot see (a halo, a glow, a darkened region)."""
    a, b = F.avg_pool2d(luminance(output), scale), F.avg_pool2d(luminance(content), scale)
    return F.mse_loss(a, b) / b.pow(2).mean().clamp_min(1e-12)


def halo_loss(output: torch.Tensor, content: torch.Tensor, scale: int, surround: float) -> torch.Tensor:
    """The lightness change ΔL = L(output) − L(content), averaged over ``scale``² blocks, minus its
    own Gaussian blur of ``surround`` blocks: mean square, divided by the content's block
    lightness's. A glow or a dark rim along an outline (a halo: 2-12 px wide, one side of an edge)
    is all local change and costs it fully; a recolouring of the whole picture or a slow gradient
    costs nothing (the tone term charges those too), and fine strokes average out in the blocks."""
    change = F.avg_pool2d(luminance(output) - luminance(content), scale)
    smooth = separable_blur(change, gaussian_kernel(surround).to(change))
    return (change - smooth).pow(2).mean() / F.avg_pool2d(luminance(content), scale).pow(2).mean().clamp_min(1e-12)


class VGG16Features(nn.Module):
    LAYERS = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3", 22: "relu4_3"}
    CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)

    def __init__(self, weights: Path | None = None) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in self.CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(c, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                c = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        if weights is not None:
            self.load(weights)
        self.requires_grad_(False).eval()

    def load(self, path: Path) -> None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"VGG16 weights {path} do not exist (torchvision's vgg16-397923af.pth), or use --loss-net random")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            raise UserError(f"{path} is corrupt or not a PyTorch state dict") from None
        ours = {k: v for k, v in state.items() if k.startswith("features.") and k in self.state_dict()}
        missing = [k for k in self.state_dict() if k.startswith("features.") and k not in ours]
        if missing:
            raise UserError(f"{path} is not a VGG16 state dict: missing {', '.join(missing[:3])}")
        self.load_state_dict(ours, strict=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.LAYERS:
                out.append(h)
        return out


@dataclass
class RandomFeaturesConfig:
    seed: int = 0
    scales: tuple[int, ...] = (1, 2, 4, 8)  # downsampling factors of the input
    # chosen by models/loss_experiment.py (docs/experiments/offline_loss): adding 11×11 filters
    # and 48 maps per bank reached the lowest judged style distance at moderate content change
    kernel_sizes: tuple[int, ...] = (3, 5, 7, 11)
    maps: int = 48  # filters per kernel size and scale
    content_scale: int = 2  # which scale's features the content loss uses


def random_bank(g: torch.Generator, maps: int, k: int) -> nn.Parameter:
    """``maps`` fixed random k×k filters of RGB, each zero-mean (they respond to structure, not
    brightness) and of unit norm, drawn from ``g``."""
    w = torch.randn(maps, 3, k, k, generator=g)
    w -= w.mean(dim=(1, 2, 3), keepdim=True)
    w /= w.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
    return nn.Parameter(w, requires_grad=False)


def bank_features(x: torch.Tensor, banks: list[torch.Tensor]) -> torch.Tensor:
    """ReLU of every bank's filters on ``x`` (reflect-padded to keep its size), channels stacked."""
    return F.relu(torch.cat([F.conv2d(F.pad(x, [w.shape[-1] // 2] * 4, mode="reflect"), w) for w in banks], dim=1))


class RandomFeatures(nn.Module):
    """Fixed random multi-scale filter banks + ReLU; one feature map list per scale."""

    def __init__(self, config: RandomFeaturesConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or RandomFeaturesConfig()
        g = torch.Generator().manual_seed(cfg.seed)
        self.banks = nn.ParameterList(random_bank(g, cfg.maps, k) for _ in cfg.scales for k in cfg.kernel_sizes)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.eval()

    @property
    def min_side(self) -> int:
        """Smallest image side the coarsest scale's widest filter can be reflect-padded at."""
        return max(self.config.scales) * (max(self.config.kernel_sizes) // 2 + 1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if min(x.shape[-2:]) < self.min_side:
            raise UserError(f"images of {x.shape[-1]}×{x.shape[-2]} are too small for the random loss network: "
                            f"use at least {self.min_side} pixels a side (--size/--crop)")
        x = x - self.mean
        out = []
        banks = iter(self.banks)
        for s in self.config.scales:
            xs = F.avg_pool2d(x, s) if s > 1 else x
            out.append(bank_features(xs, [next(banks) for _ in self.config.kernel_sizes]))
        return out


def band_rms(rgb01: torch.Tensor, bands: tuple[int, ...]) -> torch.Tensor:
    """N×len(bands): the RMS of each picture's luminance Laplacian band k (benchmarks.style_texture's S_k
    is this ratio, output over painting)."""
    pyramid = luminance_bands(rgb01, max(bands) + 2)
    return torch.stack([pyramid[k].pow(2).mean(dim=(1, 2, 3)).add(1e-10).sqrt() for k in bands], dim=1)


class BandTexture(nn.Module):
    """Texture statistics of the fine bands alone: the Gram matrix of fixed random 3/5/7-px
    filters (+ ReLU) on band k of the picture's colour Laplacian pyramid, for each k in ``bands``.

    The loss networks' Gram matrices see the whole picture, whose slow, strong changes dominate
    them: band 0 (2–4 px: a painting's stroke edges, a mosaic's grout) weighs a few per cent,
    and the style networks drew it at 0.17–0.28 of the painting's RMS
    (benchmarks/results/style-texture-cpu). Asking for the band's RMS alone (tried first) was
    met with vertical stripes, the cheapest fine texture; the Gram matrices of the band ask for
    its energy *and* its orientations and spacing."""

    def __init__(self, bands: tuple[int, ...], maps: int = 16, seed: int = 1, kernel_sizes: tuple[int, ...] = (3, 5, 7)) -> None:
        super().__init__()
        self.bands = bands
        g = torch.Generator().manual_seed(seed)
        self.banks = nn.ParameterList(random_bank(g, maps, k) for k in kernel_sizes)

    def forward(self, rgb01: torch.Tensor) -> list[torch.Tensor]:
        # RandomFeatures' banks, but on the band itself (no mean taken off: a flat band gives 0)
        pyramid = laplacian_pyramid(rgb01, max(self.bands) + 2)
        return [gram(bank_features(pyramid[k], list(self.banks))) for k in self.bands]


def stroke_loss(output_grams: list[torch.Tensor], painting_grams: list[torch.Tensor]) -> torch.Tensor:
    """Σ over the bands of MSE(Gram(out), Gram(painting)) / mean square of the painting's: 0 for
    the painting's own fine texture, about 1 for none at all."""
    return sum(F.mse_loss(g, p.expand_as(g)) / p.pow(2).mean().clamp_min(1e-20) for g, p in zip(output_grams, painting_grams))


@dataclass
class StyleLossConfig:
    content_weight: float = 1.0
    style_weight: float = 5.0
    tv_weight: float = 0.0
    content_layers: tuple[int, ...] = (1,)  # indices into the loss network's output list
    style_layers: tuple[int, ...] = field(default_factory=lambda: (0, 1, 2, 3))
    # divide each term by the target's mean square, so the weights mean the same for any net
    normalize: bool = True
    # penalty on output values outside [0, 1]: the loss network only ever sees the clamped image,
    # so a generator cannot satisfy it with out-of-range colours (random features would let it)
    range_weight: float = 10.0
    # the random features are zero-mean filters, blind to slow changes of brightness: a glow of
    # the same RMS as a fine texture costs 40× less content loss (tests/models/losses/test_losses.py), which
    # lets a network paint halos around outlines. This term compares the lightness of output
    # and content averaged over tone_scale² blocks (normalised like the others); 0 = off
    tone_weight: float = 0.0
    tone_scale: int = 8
    # the painting's fine texture, band by band (BandTexture: the Gram matrices of the
    # ``stroke_bands`` of a Laplacian pyramid, which the loss network's Gram matrices barely see); 0 = off
    stroke_weight: float = 0.0
    stroke_bands: tuple[int, ...] = (0, 1)
    # the tone term also charges the style's even recolouring; this one only the lightness change
    # that differs from its surroundings (halo_loss: tone_scale² blocks against a blur of
    # halo_surround blocks, 32 px at the defaults), so it can be weighed high; 0 = off
    halo_weight: float = 0.0
    halo_surround: float = 4.0
    # echoes of the content's strong edges (models/losses/ringing.py: the change locked to the
    # outlines 2-12 px out, against each side's own level further out), which the halo term's
    # 8-px blocks average away; 0 = off
    ringing_weight: float = 0.0


class StyleLoss(nn.Module):
    """content_weight·MSE(features) + style_weight·Σ MSE(Gram) + tv_weight·TV + range_weight·out-of-range²."""

    def __init__(self, net: nn.Module, style_image: torch.Tensor, config: StyleLossConfig | None = None) -> None:
        super().__init__()
        self.net, self.config = net, config or StyleLossConfig()
        with torch.no_grad():
            feats = net(style_image)
            wrong = sorted({i for i in (*self.config.content_layers, *self.config.style_layers) if i >= len(feats)})
            if wrong:
                raise UserError(f"layer {', '.join(map(str, wrong))} does not exist: this loss network has layers 0-{len(feats) - 1} "
                                "(--content-layers/--style-layers)")
            self.style_grams = [gram(feats[i]) for i in self.config.style_layers]
            self.style_scale = [g.pow(2).mean().clamp_min(1e-12) if self.config.normalize else 1.0 for g in self.style_grams]
            self.strokes = BandTexture(self.config.stroke_bands).to(style_image.device) if self.config.stroke_weight else None
            self.stroke_grams = self.strokes(style_image) if self.strokes is not None else []
            self.ringing = RingingLoss() if self.config.ringing_weight else None

    def forward(self, output: torch.Tensor, content: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        inside = output.clamp(0.0, 1.0)
        range_loss = (output - inside).pow(2).mean()
        out_f = self.net(inside)
        with torch.no_grad():
            content_f = self.net(content)
        content_loss = sum(
            F.mse_loss(out_f[i], content_f[i]) / (content_f[i].pow(2).mean().clamp_min(1e-12) if c.normalize else 1.0)
            for i in c.content_layers
        )
        style_loss = sum(
            F.mse_loss(gram(out_f[i]), g.expand(output.shape[0], -1, -1)) / scale
            for i, g, scale in zip(c.style_layers, self.style_grams, self.style_scale)
        )
        tv = total_variation(inside) if c.tv_weight else output.new_zeros(())
        tone = tone_loss(inside, content, c.tone_scale) if c.tone_weight else output.new_zeros(())
        strokes = stroke_loss(self.strokes(inside), self.stroke_grams) if self.strokes is not None else output.new_zeros(())
        halo = halo_loss(inside, content, c.tone_scale, c.halo_surround) if c.halo_weight else output.new_zeros(())
        ringing = self.ringing(inside, content) if self.ringing is not None else output.new_zeros(())
        total = (c.content_weight * content_loss + c.style_weight * style_loss + c.tv_weight * tv + c.range_weight * range_loss
                 + c.tone_weight * tone + c.stroke_weight * strokes + c.halo_weight * halo + c.ringing_weight * ringing)
        return {"total": total, "content": content_loss, "style": style_loss, "tv": tv, "range": range_loss, "tone": tone,
                "strokes": strokes, "halo": halo, "ringing": ringing}


# --loss-net NAME -> the MediaPipe model (models/losses/tflite_net.py): its stage outputs at strides 2, 4, 8, 16
PRETRAINED_LOSS_NETS = {"pose": "pose_landmark_full", "face": "face_landmark"}
# random+pose: the random features' four scales (layers 0-3: colour and texture, as before), then the
# pose network's four stages (layers 4-7: strides 2, 4, 8, 16). Alone, the pose network's Gram
# matrices barely see colour: a mosaic trained on them (500 steps) came out grey; its content term
# keeps the person, where the random one let the mosaic hide faces (4 of 18 found).
STACKED_LOSS_NETS = {f"random+{name}": name for name in PRETRAINED_LOSS_NETS}
# (content layers, style layers) a stacked network uses unless --content-layers/--style-layers say
STACKED_LAYERS = ((5,), (0, 1, 2, 3, 4))
LOSS_NETS = ("random", "vgg16", *PRETRAINED_LOSS_NETS, *STACKED_LOSS_NETS)


class FeatureStack(nn.Module):
    """Several loss networks as one: their feature lists one after the other."""

    def __init__(self, nets: list[nn.Module]) -> None:
        super().__init__()
        self.nets = nn.ModuleList(nets)

    @property
    def min_side(self) -> int:
        return max(getattr(n, "min_side", 1) for n in self.nets)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return [f for net in self.nets for f in net(x)]


def loss_network(name: str, vgg_weights: Path | None = None, random: RandomFeaturesConfig | None = None) -> nn.Module:
    """``random`` (offline, no download), ``vgg16`` (needs the user's torchvision weights file), or
    ``pose``/``face`` (MediaPipe's trained networks, read from the installed mediapipe wheel)."""
    if name == "vgg16":
        if vgg_weights is None:
            raise UserError("--loss-net vgg16 needs --vgg-weights (torchvision's vgg16-397923af.pth); or use --loss-net random")
        return VGG16Features(vgg_weights)
    if name == "random":
        return RandomFeatures(random)
    if name in PRETRAINED_LOSS_NETS:  # MediaPipe's bundled networks, read from the installed wheel
        from models.losses.tflite_net import PretrainedFeatures, PretrainedFeaturesConfig

        return PretrainedFeatures(PretrainedFeaturesConfig(model=PRETRAINED_LOSS_NETS[name]))
    if name in STACKED_LOSS_NETS:
        return FeatureStack([RandomFeatures(random), loss_network(STACKED_LOSS_NETS[name])])
    raise UserError(f"unknown loss network {name!r}: use {', '.join(LOSS_NETS)}")


def add_loss_args(p: argparse.ArgumentParser) -> None:
    """Loss options shared by Gatys stills and Johnson training (defaults: StyleLossConfig's)."""
    d = StyleLossConfig()
    p.add_argument("--loss-net", default="random", choices=LOSS_NETS,
                   help="random needs no download; pose/face: MediaPipe's trained networks from the installed wheel "
                        "(punish blur more than a 1-px shift; needs the tflite package); random+pose: both, "
                        "the random features' layers 0-3 then the pose stages' 4-7")
    p.add_argument("--content-layers", help="loss network layers the content term compares, e.g. 5 "
                   f"(default: {','.join(map(str, d.content_layers))}; random+pose/face: "
                   f"{','.join(map(str, STACKED_LAYERS[0]))})")
    p.add_argument("--style-layers", help="layers whose Gram matrices the style term compares "
                   f"(default: {','.join(map(str, d.style_layers))}; random+pose/face: {','.join(map(str, STACKED_LAYERS[1]))})")
    p.add_argument("--vgg-weights", type=Path, help="torchvision's vgg16-397923af.pth, for --loss-net vgg16")
    p.add_argument("--content-weight", type=float, default=d.content_weight)
    p.add_argument("--style-weight", type=float, default=d.style_weight)
    p.add_argument("--tv-weight", type=float, default=d.tv_weight)
    p.add_argument("--tone-weight", type=float, default=d.tone_weight,
                   help="lightness over 8×8 blocks kept to the content's (against halos the random features cannot see)")
    p.add_argument("--halo-weight", type=float, default=d.halo_weight,
                   help="lightness change that differs from its surroundings (8-px blocks against a 32-px blur) held "
                        "to zero: a glow or dark rim along outlines, not the style's even recolouring")
    p.add_argument("--ringing-weight", type=float, default=d.ringing_weight,
                   help="echoes of the content's strong edges (the change locked to them 2-12 px out) held to zero: "
                        "ringing the halo term's 8-px blocks cannot see, e.g. 20")
    p.add_argument("--stroke-weight", type=float, default=d.stroke_weight,
                   help="ask for the painting's texture in the output's fine bands (--stroke-bands; Gram matrices of "
                        "random filters on each band): strokes the loss network's Gram matrices barely see")
    p.add_argument("--stroke-bands", help="Laplacian bands (0 = finest, 2-4 px) the stroke term compares "
                   f"(default: {','.join(map(str, d.stroke_bands))})")
    p.add_argument("--loss-maps", type=int, default=RandomFeaturesConfig().maps,
                   help="random loss network: filters per kernel size and scale (x4 kernel sizes = maps per scale)")


def loss_options(a: argparse.Namespace) -> StyleLossConfig:
    """The StyleLossConfig that add_loss_args' options describe."""
    d = StyleLossConfig()
    content, style = STACKED_LAYERS if a.loss_net in STACKED_LOSS_NETS else (d.content_layers, d.style_layers)
    return StyleLossConfig(content_weight=a.content_weight, style_weight=a.style_weight, tv_weight=a.tv_weight,
                           tone_weight=a.tone_weight, stroke_weight=a.stroke_weight, halo_weight=a.halo_weight,
                           ringing_weight=a.ringing_weight,
                           stroke_bands=layer_list(a.stroke_bands, "--stroke-bands") or d.stroke_bands,
                           content_layers=layer_list(a.content_layers, "--content-layers") or content,
                           style_layers=layer_list(a.style_layers, "--style-layers") or style)


def layer_list(text: str | None, option: str) -> tuple[int, ...]:
    """``"0,1,4"`` → (0, 1, 4); None or empty → ()."""
    if not text:
        return ()
    try:
        layers = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise UserError(f"{option} takes layer numbers separated by commas, e.g. 0,1,4; got {text!r}") from None
    if any(v < 0 for v in layers):
        raise UserError(f"{option}: layer numbers start at 0, got {text!r}")
    return layers


def random_features_options(a: argparse.Namespace) -> RandomFeaturesConfig:
    """The random loss network that add_loss_args' options describe."""
    if a.loss_maps < 1:
        raise UserError(f"--loss-maps must be 1 or more, got {a.loss_maps}")
    return RandomFeaturesConfig(maps=a.loss_maps)
