"""Painting styles with strokes, without halos: a style network's own texture, its stroke
strength against its painting, the halo around people and the faces left, on held-out faces.

    python -m benchmarks.style_texture [--filter candy mosaic ...] [--variants full auto]

For each held-out photo and video frame (``--holdout``; videos every 15th frame) at ``--short``
px short side, each style network as ``realtime`` runs it on CPU (``full``; ``auto``, what
``--variant auto`` picks on CPU: the fast student where there is one, else the same full
network, whose row is then copied, not run twice). With L_k band k of the luminance's 5-level
Laplacian pyramid (k = 0 finest; :mod:`benchmarks.bands`):

- own texture ν_k = |L_k(out) − a L_k(photo)| / |L_k(out)|, a the least-squares fit per picture:
  0 = the band is the photo's detail scaled, 1 = strokes of the network's own;
- stroke strength S_k = RMS L_k(out) / RMS L_k(painting): the painting the network was trained
  on (its card's ``style_image``, under ``DATA/styles``; generated for psychedelic) at the same
  short side, as in training;
- halo: :func:`benchmarks.halo.halo` (the lightness change in a ring 2–12 px outside the person
  minus far from it, gray levels) on the pictures with a person in them;
- ringing: :func:`benchmarks.edge_ringing.edge_ringing` (the lightness change locked to the
  photo's strong edges 2–12 px from them, against each side's level further out: a glow, a rim or
  echoes of the outline; RMS, gray levels) on the pictures with strong edges;
- faces found: the pictures whose photo has a face (MediaPipe's face detector,
  :func:`benchmarks.halo.face_finder`) in which the output still has one.

Goals, each row marked pass/fail: ν_0 ≥ 0.8, ν_1 ≥ 0.6, S_0 ≥ 0.6, halo ≤ 8 gray levels, ringing
≤ 8 gray levels (the halo's; an unsharp mask of σ 3 px, amount 1, scores 7.7) and a face found in
every picture that had one. The photo itself is the baseline row (ν = 0, halo 0).
Writes report.json, report.md and plot.png into ``--out``.
"""
from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.bands import LEVELS, TextureSums, band_rms
from benchmarks.clone_ratio import add_holdout_args, held_out
from benchmarks.edge_ringing import Edges, edge_ringing, edges_of
from benchmarks.halo import FaceFinder, face_finder, halo, people
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, below_minimum, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_STYLES = ("candy", "mosaic", "starry_night", "the_scream", "psychedelic")
GOAL_OWN = {0: 0.8, 1: 0.6}  # band → least own texture
GOAL_STROKES = {0: 0.6}  # band → least stroke strength
GOAL_HALO = 8.0  # gray levels at most
GOAL_RINGING = 8.0  # gray levels at most, as the halo


@dataclass
class Picture:
    """One held-out picture: RGB, its BGR, the halo regions (None: not enough person), whether its
    photo has a face, and its strong edges."""

    rgb: np.ndarray
    bgr: np.ndarray
    rings: tuple[np.ndarray, np.ndarray] | None
    face: bool
    edges: Edges


@dataclass
class Measures:
    """One row's sums over pictures."""

    texture: TextureSums = field(default_factory=TextureSums)
    halos: list[float] = field(default_factory=list)
    ringing: list[float] = field(default_factory=list)  # over the pictures with strong edges
    faces: list[bool] = field(default_factory=list)  # over the pictures whose photo has a face

    def add(self, pic: Picture, out_bgr: np.ndarray, found: FaceFinder) -> None:
        self.texture.add(pic.rgb, cv2.cvtColor(out_bgr, cv2.COLOR_BGR2RGB))
        if pic.rings is not None:
            self.halos.append(halo(pic.bgr, out_bgr, *pic.rings))
        if len(pic.edges):
            self.ringing.append(edge_ringing(pic.bgr, out_bgr, pic.edges))
        if pic.face:
            self.faces.append(found(out_bgr))


def style_networks() -> dict[str, tuple[Path, str]]:
    """Bundled style networks: name → (ONNX file, the style image its card names)."""
    from realtime.filters.registry import bundled_filters

    out = {}
    for name, path in bundled_filters().items():
        card = path.with_suffix(".json")
        style = json.loads(card.read_text()).get("style_image") if card.is_file() else None
        if style:
            out[name] = (path, str(style))
    return out


def painting(name: str, data: Path, short: int) -> np.ndarray:
    """The style image ``name`` (a file under ``data``/styles, or a generated one) at ``short`` px short side."""
    from models.data.media import fit_short_side
    from models.teachers.style_images import GENERATED, read_style

    if name in GENERATED:
        return fit_short_side(read_style(name), short)
    path = data / "styles" / name
    if not path.is_file():
        raise UserError(f"painting {name} is not under {data / 'styles'} (give --data the shared media folder)")
    return fit_short_side(read_style(path), short)


def through_work_size(rgb: np.ndarray, work_size: int) -> np.ndarray:
    """``rgb`` shrunk to a frame filter's work size and grown back, as the runtime does around
    the network (:mod:`realtime.filters.kinds.frame_filter`): what the resizing alone leaves of the detail."""
    from realtime.imaging import shrink
    from realtime.imaging import work_shape

    h, w = rgb.shape[:2]
    sh, sw = work_shape(h, w, work_size)
    if (sh, sw) == (h, w):
        return rgb
    return cv2.resize(shrink(rgb, sw, sh), (w, h), interpolation=cv2.INTER_LINEAR)


def pictures_of(images: list[np.ndarray], found: FaceFinder) -> list[Picture]:
    """Each held-out picture with its halo regions (:func:`benchmarks.halo.people`) and face."""
    out = []
    for rgb in tqdm(images, desc="people and faces", unit="image", leave=False):
        person = people([rgb])
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        out.append(Picture(rgb, bgr, person[0][1:] if person else None, found(bgr), edges_of(bgr)))
    return out


def value(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 3)


def judge(own: np.ndarray, strokes: np.ndarray | None, halo_mean: float | None, ringing: float | None,
          faces: list[bool]) -> dict[str, Any]:
    checks = {f"nu_{k}": bool(own[k] >= v) for k, v in GOAL_OWN.items()}
    if strokes is not None:
        checks.update({f"S_{k}": bool(strokes[k] >= v) for k, v in GOAL_STROKES.items()})
    if halo_mean is not None:
        checks["halo"] = bool(halo_mean <= GOAL_HALO)
    if ringing is not None:
        checks["ringing"] = bool(ringing <= GOAL_RINGING)
    if faces:
        checks["faces"] = bool(all(faces))
    return {"checks": checks, "pass": all(checks.values())}


def row(spec: str, variant: str, file: str, m: Measures, paint: np.ndarray | None) -> dict[str, Any]:
    own, rms = m.texture.own_texture(), m.texture.rms()
    strokes = None if paint is None else rms / np.maximum(paint, 1e-9)
    h = float(np.mean(m.halos)) if m.halos else None
    ring = float(np.mean(m.ringing)) if m.ringing else None
    return {"filter": spec, "variant": variant, "file": file, "pictures": m.texture.pictures,
            "own_texture": [value(x) for x in own], "rms": [value(x) for x in rms],
            "stroke_strength": None if strokes is None else [value(x) for x in strokes],
            "halo": value(h) if h is not None else None, "halo_pictures": len(m.halos),
            "halo_median": value(float(np.median(m.halos))) if m.halos else None,
            "ringing": value(ring) if ring is not None else None, "ringing_pictures": len(m.ringing),
            "faces_found": round(float(np.mean(m.faces)), 2) if m.faces else None,
            "faces": f"{sum(m.faces)} of {len(m.faces)}",
            **(judge(own, strokes, h, ring, m.faces) if spec != "photo" else {"checks": {}, "pass": None})}


def measure(spec: str, variant: str, pics: list[Picture], found: FaceFinder, source: Path | None = None) -> Measures:
    """``source``: the ONNX file to run (default: the bundled ``spec``)."""
    import realtime

    chain = realtime.load_chain(str(source or spec), provider="cpu", variant=variant) if spec != "photo" else None
    m = Measures()
    for pic in tqdm(pics, desc=f"{spec} {variant}", unit="image", leave=False):
        m.add(pic, pic.bgr if chain is None else chain.apply(pic.bgr), found)
    return m


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Style texture: own strokes, stroke strength, halo and faces on held-out faces ({report['machine']})", "",
             f"{report['date']}; {report['pictures']} held-out pictures ({', '.join(report['holdout'])}; videos every 15th "
             f"frame) at {report['short']} px short side, each style network as `realtime` runs it on CPU (auto = what "
             "`--variant auto` runs there). Bands of the luminance's 5-level Laplacian pyramid (k = 0 finest, "
             "~2^(k+1)–2^(k+2) px). ν_k = |L_k(out) − a L_k(photo)| / |L_k(out)| (a: least-squares fit; 0 = the photo's "
             "detail, 1 = strokes of its own). S_k = RMS L_k(out) / RMS L_k(its painting at the same short side). Halo: "
             "benchmarks.halo's measure (gray levels, "
             f"{report['halo_pictures']} pictures with a person). Ringing: benchmarks.edge_ringing's measure (the "
             "lightness change locked to the photo's strong edges 2–12 px from them, RMS, gray levels; "
             f"{report['ringing_pictures']} pictures with strong edges). Faces found: of the {report['face_pictures']} pictures "
             "whose photo has a face, those where MediaPipe's face detector still finds one in the output.", "",
             f"Goals: ν_0 ≥ {GOAL_OWN[0]}, ν_1 ≥ {GOAL_OWN[1]}, S_0 ≥ {GOAL_STROKES[0]}, halo ≤ {GOAL_HALO:g}, "
             f"ringing ≤ {GOAL_RINGING:g}, "
             "a face found in every picture that had one. **bold ✗**: goal missed.", "",
             "| style | variant (file) | ν_0 | ν_1 | ν_2 | S_0 | S_1 | S_2 | halo | ringing | faces found | goals |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cell(r: dict[str, Any], key: str, check: str | None, v: Any) -> str:
        if v is None:
            return "–"
        return f"**{v}** ✗" if check in r["checks"] and not r["checks"][check] else f"{v}"

    for r in report["rows"]:
        s = r["stroke_strength"] or [None] * LEVELS
        missed = [k for k, ok in r["checks"].items() if not ok]
        verdict = "baseline" if r["filter"] == "photo" else ("pass" if r["pass"] else "fail: " + ", ".join(missed))
        faces = "–" if r["faces_found"] is None else cell(r, "faces", "faces", r["faces"])
        lines.append(f"| {r['filter']} | {r['variant']} ({r['file']}) | "
                     + " | ".join(cell(r, "", f"nu_{k}", r["own_texture"][k]) for k in range(3)) + " | "
                     + " | ".join(cell(r, "", f"S_{k}", s[k]) for k in range(3))
                     + f" | {cell(r, '', 'halo', r['halo'])} | {cell(r, '', 'ringing', r['ringing'])} | {faces} | {verdict} |")
    lines += ["", "Paintings at the same short side; the last column is S_0 of the painting itself shrunk to its full network's "
              "work size and grown back, as the runtime does around the network: what the resizing alone leaves of band 0.", "",
              "| painting | file | RMS band 0 / 1 / 2 / 3 (gray levels) | S_0 through the work size |", "|---|---|---|---|"]
    lines += [f"| {name} | {p['file']} | {' / '.join(str(x) for x in p['rms'][:4])} | {p['resize_ceiling'][0]} ({p['work_size']} px) |"
              for name, p in report["paintings"].items()]
    lines += ["", f"Reproduce: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    rows = [r for r in report["rows"] if r["filter"] != "photo"]
    labels = [f"{r['filter']} {r['variant']}" for r in rows]
    y = np.arange(len(rows))
    fig, axes = plt.subplots(1, 3, figsize=(12, 0.32 * len(rows) + 1.6), sharey=True)
    for ax, key, bands, goals, title in ((axes[0], "own_texture", (0, 1), GOAL_OWN, "own texture ν_k"),
                                         (axes[1], "stroke_strength", (0, 1), GOAL_STROKES, "stroke strength S_k (painting = 1)")):
        for j, k in enumerate(bands):
            vals = [np.nan if r[key] is None or r[key][k] is None else r[key][k] for r in rows]
            ax.barh(y + (j - 0.5) * 0.38, vals, height=0.36, color=f"C{j}", label=f"band {k}")
            if k in goals:
                ax.axvline(goals[k], color=f"C{j}", linestyle="--", linewidth=1)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    axes[1].axvline(1.0, color="gray", linestyle=":", linewidth=1)
    for j, (key, label) in enumerate((("halo", "halo around the person"), ("ringing", "ringing at strong edges"))):
        axes[2].barh(y + (j - 0.5) * 0.38, [np.nan if r[key] is None else r[key] for r in rows], height=0.36,
                     color=("#dd8452", "#8172b3")[j], label=label)
    axes[2].axvline(GOAL_HALO, color="k", linestyle="--", linewidth=1, label=f"goal {GOAL_HALO:g} (both)")
    axes[2].axvline(0, color="k", linewidth=0.6)
    axes[2].set_title("halo and ringing (gray levels)", fontsize=9)
    axes[2].legend(fontsize=7)
    axes[0].set_yticks(y, labels, fontsize=7)
    axes[0].invert_yaxis()
    save_figure(fig, path, dpi=110)


def paint_entry(network: tuple[Path, str], paint: np.ndarray) -> dict[str, Any]:
    """A painting's file, band RMS, and the share of each band's RMS left after the resizing
    around its full network (:func:`through_work_size`)."""
    from realtime.filters.onnx_format import read_contract

    work = read_contract(network[0]).work_size
    rms = band_rms(paint)
    return {"file": network[1], "rms": [value(x) for x in rms], "work_size": work,
            "resize_ceiling": [value(x) for x in band_rms(through_work_size(paint, work)) / np.maximum(rms, 1e-9)]}


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root
    from realtime.filters.registry import variant_file

    p = command_line("benchmarks.style_texture", __doc__)
    p.add_argument("--filter", nargs="+", default=list(DEFAULT_STYLES), help=f"bundled style networks (default: {' '.join(DEFAULT_STYLES)})")
    p.add_argument("--variants", nargs="+", default=["full", "auto"], choices=["full", "auto", "fast"],
                   help="auto: what --variant auto runs on CPU; fast rows are left out for styles without a fast student")
    add_holdout_args(p)
    p.add_argument("--short", type=int, default=384, help="short side of the pictures and the paintings, px (default: %(default)s)")
    p.add_argument("--out", type=Path, default=RESULTS / "style-texture-cpu")
    p.add_argument("--candidates", type=Path,
                   help="a folder of NAME.onnx (and NAME.fast.onnx) files measured instead of the bundled NAME: a network "
                        "not released yet (python -m export onnx runs/NAME.pt -o DIR/NAME.onnx)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    networks = style_networks()
    if a.candidates is not None:
        if not a.candidates.is_dir():
            raise UserError(f"--candidates {a.candidates}: no such folder")
        networks = {name: (a.candidates / f"{name}.onnx" if (a.candidates / f"{name}.onnx").is_file() else path, style)
                    for name, (path, style) in networks.items()}
    unknown = [f for f in a.filter if f not in networks]
    if unknown:
        raise UserError(f"{', '.join(unknown)}: not a bundled style network; style networks are {', '.join(sorted(networks))}")
    problems = below_minimum(a, (("short", 2 ** (LEVELS + 1)),))
    if problems:
        raise UserError("; ".join(problems))
    data = a.data or data_root()
    paintings = {spec: painting(networks[spec][1], data, a.short) for spec in dict.fromkeys(a.filter)}  # refused before any work
    images = held_out(data, a.holdout, a.short)
    found, close = face_finder()
    try:
        pics = pictures_of(images, found)
        rows = [row("photo", "-", "-", measure("photo", "-", pics, found), None)]
        for spec in paintings:
            path = networks[spec][0]
            paint = band_rms(paintings[spec])
            done: dict[Path, dict[str, Any]] = {}
            for variant in dict.fromkeys(a.variants):
                if variant == "fast" and variant_file(path, "cpu", "auto") == path:
                    continue  # no fast student
                file = variant_file(path, "cpu", variant)
                if file in done:  # auto runs the full network: the same numbers
                    rows.append({**done[file], "variant": variant})
                else:
                    rows.append(row(spec, variant, file.name, measure(spec, variant, pics, found, path), paint))
                    done[file] = rows[-1]
                r = rows[-1]
                print(f"{spec} {variant} ({file.name}): nu_0 {r['own_texture'][0]}, nu_1 {r['own_texture'][1]}, "
                      f"S_0 {r['stroke_strength'][0]}, halo {r['halo']}, ringing {r['ringing']}, faces {r['faces']}: {'pass' if r['pass'] else 'fail'}")
    finally:
        close()
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(a.holdout), "pictures": len(pics),
              "halo_pictures": sum(pic.rings is not None for pic in pics), "ringing_pictures": sum(len(pic.edges) > 0 for pic in pics),
              "face_pictures": sum(pic.face for pic in pics),
              "short": a.short, "goals": {"own_texture": GOAL_OWN, "stroke_strength": GOAL_STROKES, "halo": GOAL_HALO, "ringing": GOAL_RINGING, "faces": "all"},
              "paintings": {spec: paint_entry(networks[spec], paintings[spec]) for spec in paintings},
              "command": "python -m benchmarks.style_texture " + " ".join(argv if argv is not None else sys.argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
