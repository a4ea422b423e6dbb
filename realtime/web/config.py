"""What ``realtime web`` runs with: where it listens, how much it accepts, how it runs models."""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from realtime.errors import UserError, below_minimum
from realtime.filters.registry import CHOICES as VARIANTS

PROVIDERS = ("auto", "tensorrt", "cuda", "cpu")
LOCAL_HOSTS = ("localhost",)
FORM_OVERHEAD = 64 * 1024  # the other form fields and the multipart boundaries, on top of the image


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"
    port: int = 1235  # FilterClone's FilterApply port
    max_upload_mb: float = 20.0  # the image file's size cap (the request body may be 64 KB more)
    max_megapixels: float = 50.0  # the decoded image's cap, checked in the header before decoding (a 50 MP phone photo passes)
    provider: str = "auto"
    variant: str = "auto"
    threads: int = 0  # ONNX Runtime threads per session (0: all cores)
    workers: int = 2  # requests filtered at once (2 uses both cores of the reference machine; more only queue)
    max_pending: int = 16  # requests waiting or running beyond which the server answers 503
    max_live: int = 4  # live camera sessions at once
    # --ray: the uploads filtered on a Ray Serve deployment (realtime.web.ray_serve) instead of here
    ray: str | None = None  # None: here; local (a Ray instance started here), auto (the running cluster) or an address
    ray_replicas: str = "1"  # N replicas, or MIN-MAX for Serve's autoscaling between them
    gpus_per_replica: float = 0.0  # each replica's GPU share (0.25: four replicas on one GPU), the CUDA provider

    def __post_init__(self) -> None:
        problems = []
        if not self.host.strip():
            problems.append("--host must not be empty")
        if not 0 <= self.port <= 65535:
            problems.append(f"--port must be 0..65535 (0: any free port), got {self.port}")
        for name in ("max_upload_mb", "max_megapixels"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                problems.append(f"--{name.replace('_', '-')} must be a number above 0, got {value}")
        if self.provider not in PROVIDERS:
            problems.append(f"--provider must be one of {', '.join(PROVIDERS)}, got {self.provider!r}")
        if self.variant not in VARIANTS:
            problems.append(f"--variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        problems += below_minimum(self, (("threads", 0), ("workers", 1), ("max_pending", 1), ("max_live", 0)))
        problems += self._ray_problems()
        if problems:
            raise UserError("; ".join(problems))

    def _ray_problems(self) -> list[str]:
        out = []
        if self.ray is not None and not self.ray.strip():
            out.append("--ray needs an address: local, auto, or the cluster's (ray://HEAD:10001 or HEAD:6379)")
        try:
            parse_replicas(self.ray_replicas)
        except UserError as exc:
            out.append(str(exc))
        if not (math.isfinite(self.gpus_per_replica) and 0 <= self.gpus_per_replica <= 16):
            out.append(f"--gpus-per-replica must be 0..16, got {self.gpus_per_replica:g}")
        elif self.gpus_per_replica > 0 and self.provider == "cpu":
            out.append(f"--gpus-per-replica {self.gpus_per_replica:g} runs the CUDA provider; it does not go with --provider cpu")
        if self.ray is None and (self.gpus_per_replica or self.ray_replicas.strip() != "1"):
            out.append("--ray-replicas and --gpus-per-replica are for --ray ADDRESS (filtering on Ray Serve)")
        return out

    @property
    def replicas(self) -> tuple[int, int]:
        """The replicas' (fewest, most): equal for a fixed count, else Serve autoscales."""
        return parse_replicas(self.ray_replicas)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def max_body_bytes(self) -> int:
        """The whole request body's cap: the image's plus the form's own overhead."""
        return self.max_upload_bytes + FORM_OVERHEAD

    @property
    def max_pixels(self) -> int:
        return int(self.max_megapixels * 1_000_000)

    @property
    def local_only(self) -> bool:
        """True when only this machine can connect (a loopback address or localhost)."""
        if self.host.strip().lower() in LOCAL_HOSTS:
            return True
        try:
            return ipaddress.ip_address(self.host.strip()).is_loopback
        except ValueError:
            return False


def parse_replicas(text: str) -> tuple[int, int]:
    """``N`` -> (N, N); ``MIN-MAX`` -> (MIN, MAX) for autoscaling; one line otherwise."""
    low, dash, high = str(text).strip().partition("-")
    try:
        pair = (int(low), int(high) if dash else int(low))
    except ValueError:
        raise UserError(f"--ray-replicas must be a count (2) or a range to autoscale in (1-8), got {str(text)[:40]!r}") from None
    if not 1 <= pair[0] <= pair[1] <= 1024:
        raise UserError(f"--ray-replicas must be 1..1024, the range's low end first, got {text!r}")
    return pair
