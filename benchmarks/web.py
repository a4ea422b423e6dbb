"""Request latency of the web page's ``POST /api/apply``: a 640×480 photo through each filter.

    python -m benchmarks.web [--requests 20] [--warmup 2] [--provider cpu] [--data DIR]
        [--out benchmarks/results/web-cpu]

The server is the real command, ``realtime web --port 0``, in its own process (as a user runs
it); the client is aiohttp on the same machine, one request at a time (the latency one user
sees, not throughput). The photo is the shared media's astronaut cropped to 640×480, sent as
a JPEG of quality 90, as a phone or a browser would. Each case: ``--warmup`` requests first (the first one loads the
models: not what a user waits for on the next photo), then ``--requests`` timed ones.

Per case: p50/p95 of the whole round trip (upload, multipart parsing, header check, JPEG
decode, the filter with the analysis it needs, PNG encode, download) and p50 of the filter
alone (the server's ``Server-Timing`` header), so the rest is the web's own cost. Cases: every
bundled filter (latent 0), every variant of cartoon at once (``latent=all``, a grid of 384-px
tiles), two effects without a network (big_eyes, glasses: face mesh and a warp), a chain, and
``none`` with the background blurred (person segmentation). Writes ``report.json``,
``report.md`` and ``plot.png`` into ``--out``.
"""
from __future__ import annotations

import asyncio
import logging
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from models.data.media import data_root
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.compositing.background import cover
from realtime.errors import UserError, run_cli
from realtime.filters.registry import bundled_filters
from realtime.host import machine

log = logging.getLogger("benchmarks.web")
RESULTS = Path(__file__).resolve().parent / "results"
PHOTO = "faces/skimage__astronaut.png"
SIZE = (640, 480)  # width, height


@dataclass(frozen=True)
class Case:
    label: str
    filter: str
    latent: str = "0"
    background: str = "none"


@dataclass(frozen=True)
class Row:
    case: str
    filter: str
    latent: str
    background: str
    p50_ms: float
    p95_ms: float
    filter_p50_ms: float  # the server's Server-Timing: the filter alone
    response_kb: float
    out_size: str  # width x height of the PNG that came back


def cases() -> list[Case]:
    bundled = bundled_filters()
    out = [Case(name, name) for name in bundled]
    if "cartoon" in bundled:
        out += [Case("cartoon, every variant (latent=all)", "cartoon", latent="all"), Case("cartoon+glasses", "cartoon+glasses")]
    return out + [Case("big_eyes (effect)", "big_eyes"), Case("glasses (effect)", "glasses"),
                  Case("none, background blur", "none", background="blur")]


def photo(data: Path) -> bytes:
    """The 640×480 JPEG every request uploads: a real face, since the face and person
    analysis cost what they cost on one (on a picture without anyone they stop early)."""
    path = data / PHOTO
    if not path.is_file():
        raise UserError(f"the shared media are not at {data} (no {PHOTO}; give --data DIR or set REALTIME_DATA)")
    ok, buf = cv2.imencode(".jpg", cover(cv2.imread(str(path)), *SIZE), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes()


class Server:
    """``realtime web --port 0`` in a child process; its URL read from the line it prints."""

    def __init__(self, provider: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "realtime.cli", "web", "--port", "0", "--provider", provider],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = re.search(r"http://\S+/", line)
        if not found:
            self.close()
            raise UserError(f"realtime web did not start (it printed {line.strip()!r})")
        self.url = found.group(0)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def time_case(url: str, image: bytes, case: Case, warmup: int, requests: int, bar: tqdm) -> Row:
    import aiohttp

    wall, filt = [], []
    body = b""
    async with aiohttp.ClientSession() as session:
        for i in range(warmup + requests):
            form = aiohttp.FormData()
            form.add_field("image", image, filename="photo.jpg", content_type="image/jpeg")
            for key, value in (("filter", case.filter), ("latent", case.latent), ("background", case.background)):
                form.add_field(key, value)
            start = time.perf_counter()
            async with session.post(url + "api/apply", data=form) as r:
                body = await r.read()
                if r.status != 200:
                    raise UserError(f"{case.label}: the server answered {r.status}: {body[:200]!r}")
                timing = re.search(r"dur=([\d.]+)", r.headers.get("Server-Timing", ""))
            if i >= warmup:
                wall.append((time.perf_counter() - start) * 1000)
                filt.append(float(timing.group(1)) if timing else float("nan"))
                bar.update(1)
    out = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    return Row(case.label, case.filter, case.latent, case.background, round(float(np.percentile(wall, 50)), 1),
               round(float(np.percentile(wall, 95)), 1), round(float(np.percentile(filt, 50)), 1),
               round(len(body) / 1024, 1), f"{out.shape[1]}x{out.shape[0]}")


async def measure(url: str, image: bytes, todo: list[Case], warmup: int, requests: int) -> list[Row]:
    with tqdm(total=len(todo) * requests, desc="timed requests", unit="req") as bar:
        return [await time_case(url, image, case, warmup, requests, bar) for case in todo]


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Web page request latency ({report['machine']})", "",
             f"POST /api/apply with a {SIZE[0]}x{SIZE[1]} JPEG ({report['upload_kb']:.0f} KB, {report['photo']}), "
             f"answered with a PNG; {report['requests']} timed requests per case, one at a time, after "
             f"{report['warmup']} warm-up requests; provider {report['provider']}.", "",
             "| case | p50 ms | p95 ms | filter p50 ms | web overhead p50 ms | answer | PNG KB |",
             "|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        lines.append(f"| {r['case']} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['filter_p50_ms']:.0f} | "
                     f"{r['p50_ms'] - r['filter_p50_ms']:.0f} | {r['out_size']} | {r['response_kb']:.0f} |")
    lines += ["", "Filter: the server's Server-Timing (the chain alone, with the face or person analysis it needs); "
              "web overhead: the rest of the round trip (upload, form parsing, JPEG decode, PNG encode, download).", "",
              "Reproduce: `" + report["command"] + "`", ""]
    return "\n".join(lines)


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows = report["rows"]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, 0.42 * len(rows) + 1.2))
    p50 = np.array([r["p50_ms"] for r in rows])
    p95 = np.array([r["p95_ms"] for r in rows])
    filt = np.array([r["filter_p50_ms"] for r in rows])
    ax.barh(y, p50, color="#4c72b0", label="round trip p50")
    ax.barh(y, filt, color="#dd8452", height=0.45, label="filter alone p50")
    ax.errorbar(p50, y, xerr=[np.zeros_like(p50), p95 - p50], fmt="none", ecolor="k", capsize=3, lw=0.8, label="p95")
    ax.set_yticks(y, [r["case"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("ms per request (640x480)")
    ax.set_title(f"POST /api/apply latency, {report['machine']}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.web", __doc__)
    p.add_argument("--data", type=Path, default=None, help="the shared media folder (default ../shared/data or $REALTIME_DATA)")
    p.add_argument("--out", type=Path, default=RESULTS / "web-cpu")
    p.add_argument("--requests", type=int, default=20, help="timed requests per case (default 20)")
    p.add_argument("--warmup", type=int, default=2, help="untimed requests per case first (default 2; the first loads the models)")
    p.add_argument("--provider", default="cpu", choices=["auto", "tensorrt", "cuda", "cpu"])
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.requests < 2 or args.warmup < 1:
        raise UserError("--requests must be at least 2 and --warmup at least 1 (the first request loads the models)")
    data = args.data or data_root()
    image = photo(data)
    todo = cases()
    server = Server(args.provider)
    try:
        rows = asyncio.run(measure(server.url, image, todo, args.warmup, args.requests))
    finally:
        server.close()
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join(["python -m benchmarks.web", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d"), "provider": args.provider, "requests": args.requests, "warmup": args.warmup,
        "photo": PHOTO, "upload_kb": round(len(image) / 1024, 1),
        "rows": [asdict(r) for r in rows]}
    save_report(args.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
