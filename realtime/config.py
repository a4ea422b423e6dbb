"""RunConfig: everything one live run needs, filled in by the command line, a TOML file or a
program (``realtime.run(RunConfig(filter="cartoon", source="talk.mp4", output=Path("o.mp4")))``).

Every value is checked when the config is made, and every problem is reported at once in one
line, before anything is opened or loaded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path

from realtime.errors import UserError

MAX_SIDE = 7680  # 8K: larger frames are a typo, not a camera


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' (a command-line size, e.g. 1280x720) → (width, height)."""
    return parse_pair(text, "WxH, e.g. 1280x720")


def parse_pair(text: str, form: str) -> tuple[int, int]:
    """'AxB' → (A, B), both above 0; ValueError names ``form`` (e.g. 'WxH, e.g. 1280x720')."""
    try:
        a, b = (int(v) for v in str(text).lower().split("x"))
    except ValueError:
        raise ValueError(f"expected {form}, got {text!r}") from None
    if a <= 0 or b <= 0:
        raise ValueError(f"both sides must be above 0 ({form}), got {text!r}")
    return a, b


LIMITS: dict[str, tuple[float, float]] = {  # field: (lowest, highest) accepted; numbers must also be finite
    "fps": (1.0, 240.0),
    "frames": (1, 10**9),
    "work_size": (32, 4096),
    "strength": (0.0, 1.0),
    "latent": (0, 1024),
    "threads": (0, 256),
    "in_flight": (1, 4),
    "max_faces": (1, 16),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "provider": ("auto", "tensorrt", "cuda", "cpu"),
    "variant": ("auto", "full", "fast"),
    "track": ("auto", "always", "off"),
    "repeat": ("result", "raw"),
    "filter_region": ("all", "person", "background"),
    "segmentation": ("landscape", "general"),
}


@dataclass(frozen=True)
class RunConfig:
    filter: str = "none"  # bundled name, FILE.onnx or an effect; chain with +; none: no filter
    source: str = "0"  # camera index, video file, image file or "synthetic"
    size: tuple[int, int] | None = None  # capture size (width, height) asked of a camera (a file or image is scaled)
    fourcc: str | None = "MJPG"  # the pixel format asked of a camera (None: the camera's default)
    output_size: tuple[int, int] | None = None  # what the call and the file see (default: the source's size)
    fps: float = 30.0  # output frame rate
    mirror: bool = False  # the preview is a mirror image (what the call sees is not flipped unless mirror_output)
    mirror_output: bool = False  # the virtual camera and the file are flipped too
    preview: bool = True  # a preview window with hotkeys
    virtual_cam: bool | str = False  # True or a device such as /dev/video10
    virtual_cam_backend: str | None = None  # a registered pyvirtualcam backend
    ondemand: bool = False  # release the camera while no app reads the virtual camera (Linux)
    output: Path | None = None  # also write the filtered video here
    audio: bool = True  # carry a video source's sound into output
    frames: int | None = None  # stop after this many output frames
    stats: Path | None = None  # run statistics as JSON, written however the run ends
    provider: str = "auto"
    variant: str = "auto"  # auto: a fast CPU student on CPU, fp16 on CUDA
    strength: float = 1.0
    latent: int = 0
    work_size: int | None = None  # short side frame filters run at (default: each model's)
    fast: bool = False  # a video file as fast as possible (no pacing, no drops)
    loop: bool = False  # loop a video file
    temporal: bool = True  # temporal stabilisation
    track: str = "auto"  # face analysis: auto (when a filter needs it), always, off
    repeat: str = "result"  # when inference is behind: re-send the newest result or the raw frame
    threads: int = 0  # ONNX Runtime threads (0: all cores)
    in_flight: int = 1  # frames processed at once: 2 runs one frame's network beside the next (realtime.live.turns)
    background: str | None = None  # blur[:STRENGTH], remove, a colour, an image or a video (realtime.compositing.background)
    filter_region: str = "all"  # where whole-frame filters apply: all, person, background
    segmentation: str = "landscape"  # person mask model: landscape (fast) or general
    on_smile: str | None = None  # a filter (chain) used while the person smiles
    events: Path | None = None  # trigger changes as JSON lines
    max_faces: int = 2  # faces tracked at once
    sticker: str | None = None  # a user's RGBA PNG on every face: FILE.png[@eyes|@head]
    config_file: Path | None = None  # the TOML file the options came from (never an output)
    favourites: tuple[str, ...] = ()  # chains for the preview's keys 1-9 (realtime.control keeps them)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise UserError("; ".join(problems))

    def problems(self) -> list[str]:
        """Every reason this config cannot run, as option names a user can fix."""
        out: list[str] = []
        if not isinstance(self.filter, str) or not self.filter.strip():
            out.append("choose a filter with --filter NAME, or --filter none (see --list-filters)")
        if self.on_smile is not None and (not isinstance(self.on_smile, str) or not self.on_smile.strip()):
            out.append("--on-smile needs a filter name, e.g. --on-smile cartoon")
        if self.sticker is not None and (not isinstance(self.sticker, str) or not self.sticker.strip()):
            out.append("--sticker needs a PNG file with transparency, e.g. --sticker hat.png@head")
        if self.background is not None and not isinstance(self.background, str):
            out.append(f"--background must be text such as blur, remove, #00ff00 or a file, got {self.background!r}")
        for name, (lo, hi) in LIMITS.items():
            value = getattr(self, name)
            if value is None:
                continue
            integral = isinstance(lo, int)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or (integral and not float(value).is_integer()):
                out.append(f"--{flag(name)} must be {'a whole number' if integral else 'a number'}, got {value!r}")
            elif not math.isfinite(value):
                out.append(f"--{flag(name)} must be finite, got {value!r}")
            elif not lo <= value <= hi:
                out.append(f"--{flag(name)} {value:g} is outside {lo:g}..{hi:,g}")
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                out.append(f"--{flag(name)} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")
        if not isinstance(self.favourites, tuple) or not all(isinstance(f, str) and f.strip() for f in self.favourites):
            out.append(f"favourites must be a tuple of filter names, got {self.favourites!r}")
        for name in ("size", "output_size"):
            size = getattr(self, name)
            if size is not None and (not isinstance(size, tuple) or len(size) != 2
                                     or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE for v in size)):
                out.append(f"--{flag(name)} must be WIDTHxHEIGHT with sides 1..{MAX_SIDE}, got {size!r}")
        if self.ondemand and not self.virtual_cam:
            out.append("--ondemand releases the camera while no app reads the virtual camera: add --virtual-cam")
        if self.ondemand and self.output is not None:
            out.append("--ondemand with --output: a recording needs the camera all the time; leave one of them out")
        if self.fourcc is not None and not (isinstance(self.fourcc, str) and len(self.fourcc) == 4
                                            and all(33 <= ord(ch) < 127 for ch in self.fourcc)):
            out.append(f"--fourcc must be four letters such as MJPG or YUYV (or auto), got {self.fourcc!r}")
        return out

    @classmethod
    def from_options(cls, options: dict[str, object]) -> "RunConfig":
        """A config from parsed options (names as the dataclass fields); others are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in options.items() if k in names})  # type: ignore[arg-type]


def flag(name: str) -> str:
    return name.replace("_", "-")
