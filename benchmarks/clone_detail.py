"""Whether a cloned filter keeps its teacher's look, not only its average: detail band by band.

    python -m benchmarks.clone_detail [--filter cartoon sketch oil watercolor aged] [--variants full fast]
        [--candidates DIR]   # DIR/NAME.onnx, DIR/NAME.fast.onnx: networks not released yet

For each held-out photo and video frame (``--holdout``; videos every 15th frame) at ``--short``
px short side, each teacher style with its latent code (a style's index among its teacher's
styles), the bundled ONNX file run as ``realtime`` runs it (full network or fast CPU student):
P the photo, T the classical teacher's output, N the network's. With X_k band k of the
luminance's 5-level Laplacian pyramid (k = 0 finest; :mod:`benchmarks.bands`):

- gain G_k = ⟨N_k − P_k, T_k − P_k⟩ / |T_k − P_k|²: how much of the teacher's change the
  network makes in band k, in the teacher's direction;
- amplitude A_k = |N_k − P_k| / |T_k − P_k|: how strong the network's change is, any direction;
- share_k = |T_k − P_k|² / Σ_j |T_j − P_j|²: where the teacher's change lies;
- L1 ratio L1(N, T) / L1(P, T) (:mod:`benchmarks.clone_ratio`'s measure), and the mean Lab
  chroma of N beside T's (a monochrome style's clone must stay grey).

The photo scores G = A = 0, a 50 % blend of photo and teacher (``--strength 0.5`` on the
teacher: the reference row) 0.5, the teacher 1. Sums are pooled over pictures before dividing.
Goals, each row marked pass/fail: in bands 1–3 that hold ≥ 10 % of the teacher's change,
G_k ≥ 0.75 and 0.85 ≤ A_k ≤ 1.2; L1 ratio ≤ 0.5; a style whose teacher is grey (chroma < 1)
is cloned with mean chroma ≤ 2.

``aged`` is a face filter: it is scored on the aligned 256² face crops of the held-out pictures
(found at their own resolution, as :mod:`models.data.face_crops` cuts them for training), the
teacher drawn on the crop (:func:`models.teachers.aging.aged`, creases included), the network run at its
work size with what its contract asks the face filter to draw after it (``filter.post``: the
creases, from the crop's landmarks, :meth:`realtime.filters.kinds.face_filter.FaceFilter.post`),
and its change pasted back onto the 256² crop; both changes are weighted by the runtime's
feathered mask, so each is what a user would see on the face.

Writes report.json, report.md, plot.png (G_k per band, per filter and style) and sheet.jpg
(rows: filter/style; columns: photo | teacher | each variant; on the ``--sheet`` picture, the
public-domain astronaut by default) into ``--out``.
"""
from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
from tqdm import tqdm

from benchmarks.bands import LEVELS, ChangeSums, mean_chroma
from benchmarks.clone_ratio import Apply, add_holdout_args, bundled, held_out
from benchmarks.reporting import command_line, pyplot, save_figure, save_report
from realtime.errors import UserError, below_minimum, run_cli
from realtime.host import machine

RESULTS = Path(__file__).resolve().parent / "results"
FACE_FILTERS = ("aged",)
FILTERS = ("cartoon", "sketch", "oil", "watercolor", *FACE_FILTERS)
GOAL_BANDS = (1, 2, 3)
MIN_SHARE = 0.10  # a band is judged when it holds at least this share of the teacher's change
GOAL_GAIN = 0.75
GOAL_AMPLITUDE = (0.85, 1.2)
GOAL_L1 = 0.5
GREY_TEACHER = 1.0  # mean Lab chroma under which a teacher style is monochrome
GREY_CLONE = 2.0  # … and the most its clone may have
EVERY = 15  # video frames: every 15th, as benchmarks.clone_ratio
FACE_CROP = 256  # side of the aligned face crops the face teacher draws on (as in training)
MIN_EYE_PX = 40.0  # faces with eyes closer than this in the picture are left out (as in training)
TILE = 224  # contact sheet tile side
BLEND = "50% blend"


@dataclass
class Subject:
    """What one filter is scored on: the photos and, per photo, the teacher's output per style."""

    filter: str
    styles: list[str]
    photos: list[np.ndarray]  # RGB uint8
    teachers: list[list[np.ndarray]]  # [photo][style], RGB uint8
    sheet: int = 0  # index of the photo shown on the contact sheet
    landmarks: list[np.ndarray] | None = None  # face filters: each crop's 478 mesh points (crop pixels)


@dataclass
class Scores:
    """One row's sums over pictures."""

    bands: ChangeSums = field(default_factory=ChangeSums)
    l1_network: float = 0.0
    l1_photo: float = 0.0
    chroma: dict[str, float] = field(default_factory=lambda: {"output": 0.0, "teacher": 0.0, "photo": 0.0})

    def add(self, photo: np.ndarray, teacher: np.ndarray, out: np.ndarray) -> None:
        t = teacher.astype(np.float32)
        self.bands.add(photo, teacher, out)
        self.l1_network += float(np.abs(out.astype(np.float32) - t).mean())
        self.l1_photo += float(np.abs(photo.astype(np.float32) - t).mean())
        for name, img in (("output", out), ("teacher", teacher), ("photo", photo)):
            self.chroma[name] += mean_chroma(img)


def value(x: float) -> float | None:
    """Rounded for the report; None for a band with nothing to compare (NaN)."""
    return None if not np.isfinite(x) else round(float(x), 3)


def judge(share: np.ndarray, gain: np.ndarray, amp: np.ndarray, l1: float, chroma: dict[str, float]) -> dict[str, Any]:
    """The goals for one row: which bands are judged, each check, and the verdict."""
    bands = [k for k in GOAL_BANDS if k < len(share) and np.isfinite(share[k]) and share[k] >= MIN_SHARE]
    checks: dict[str, bool] = {}
    for k in bands:
        checks[f"G_{k}"] = bool(gain[k] >= GOAL_GAIN)
        checks[f"A_{k}"] = bool(GOAL_AMPLITUDE[0] <= amp[k] <= GOAL_AMPLITUDE[1])
    checks["L1"] = bool(l1 <= GOAL_L1)
    monochrome = chroma["teacher"] < GREY_TEACHER
    if monochrome:
        checks["grey"] = bool(chroma["output"] <= GREY_CLONE)
    return {"judged_bands": bands, "monochrome": monochrome, "checks": checks, "pass": all(checks.values())}


def row(filter_: str, variant: str, style: str, code: int | None, s: Scores) -> dict[str, Any]:
    n = max(s.bands.pictures, 1)
    share, gain, amp = s.bands.share(), s.bands.gain(), s.bands.amplitude()
    l1 = s.l1_network / max(s.l1_photo, 1e-9)
    chroma = {k: v / n for k, v in s.chroma.items()}
    return {"filter": filter_, "variant": variant, "style": style, "code": code, "pictures": s.bands.pictures,
            "share": [value(x) for x in share], "gain": [value(x) for x in gain], "amplitude": [value(x) for x in amp],
            "l1_ratio": value(l1), "chroma": {k: round(v, 2) for k, v in chroma.items()},
            **judge(share, gain, amp, l1, chroma)}


def named_pictures(data: Path, holdout: tuple[str, ...], short: int) -> tuple[list[np.ndarray], list[str]]:
    """:func:`benchmarks.clone_ratio.held_out`'s pictures, file by file, with each one's file stem."""
    pictures: list[np.ndarray] = []
    stems: list[str] = []
    for stem in dict.fromkeys(holdout):
        try:
            found = held_out(data, (stem,), short)
        except UserError:  # this file is not there; none at all is refused below
            continue
        pictures += found
        stems += [stem] * len(found)
    if not pictures:
        held_out(data, holdout, short)  # raises its one-line error
    return pictures, stems


def pixel_subject(spec: str, pictures: list[np.ndarray], sheet: int) -> Subject:
    """A classical teacher (:data:`models.teachers.classical.STYLED_TEACHERS`) on every picture and style."""
    from models.teachers.classical import STYLED_TEACHERS

    fn, styles = STYLED_TEACHERS[spec]
    teachers = [[fn(p, st) for st in styles.values()] for p in tqdm(pictures, desc=f"{spec} teacher", unit="image", leave=False)]
    return Subject(spec, list(styles), pictures, teachers, sheet)


def held_out_face_crops(data: Path, holdout: tuple[str, ...], every: int = EVERY) -> tuple[list[tuple[np.ndarray, np.ndarray, np.ndarray]], list[str]]:
    """(crop, landmarks, person mask) of every face in the held-out pictures at their own
    resolution (:func:`models.data.face_crops.crops_of`, as training cuts them), and each one's file stem."""
    from models.data.face_crops import crops_of
    from models.data.media import IMAGE_EXTS, VIDEO_EXTS, list_media, read_rgb, read_video_frames
    from realtime.analysis.segmentation import MaskConfig, PersonSegmenter
    from realtime.analysis.tracking import FaceTracker

    files = [p for p in list_media(data, IMAGE_EXTS | VIDEO_EXTS) if p.stem in holdout]
    tracker = FaceTracker(static=True, max_faces=16, max_side=1280)
    segmenter = PersonSegmenter(MaskConfig(model="general"), static=True)
    crops, stems = [], []
    try:
        for path in tqdm(files, desc="finding faces", unit="file", leave=False):
            frames = read_video_frames(path, every) if path.suffix.lower() in VIDEO_EXTS else [read_rgb(path)]
            for rgb in frames:
                found = crops_of(rgb, tracker, segmenter, FACE_CROP, MIN_EYE_PX)
                crops += found
                stems += [path.stem] * len(found)
    finally:
        tracker.close()
        segmenter.close()
    return crops, stems


def feathered(photo: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``photo`` + the runtime's feathered face mask × (``out`` − ``photo``): what a face
    filter's change looks like pasted back (:mod:`realtime.filters.kinds.face_filter`)."""
    from realtime.analysis.tracking import feather_mask

    weight = feather_mask(photo.shape[0])[..., None]
    p = photo.astype(np.float32)
    return np.clip(p + weight * (out.astype(np.float32) - p) + 0.5, 0, 255).astype(np.uint8)


def face_subject(spec: str, data: Path, holdout: tuple[str, ...], sheet_stem: str) -> Subject:
    """The face teacher (:func:`models.teachers.aging.aged`) on every held-out face crop and style, feathered."""
    from models.teachers.aging import AGE_STYLES, aged

    found, stems = held_out_face_crops(data, holdout)
    if not found:
        raise UserError(f"no face (eyes {MIN_EYE_PX:.0f} px apart or more) in {', '.join(holdout)} under {data}: "
                        f"leave {spec} out of --filter or check --data and --holdout")
    teachers = [[feathered(crop, aged(crop, lm, person, st)) for st in AGE_STYLES.values()]
                for crop, lm, person in tqdm(found, desc=f"{spec} teacher", unit="crop", leave=False)]
    sheet = stems.index(sheet_stem) if sheet_stem in stems else 0
    return Subject(spec, list(AGE_STYLES), [c for c, _, _ in found], teachers, sheet, [lm for _, lm, _ in found])


FaceApply = Callable[[np.ndarray, int, np.ndarray], np.ndarray]  # (RGB crop, code, its landmarks) -> RGB crop


def face_network(spec: str, variant: str) -> FaceApply:
    """The bundled face filter as the runtime runs it on one aligned crop: the crop shrunk to
    the network's work size, the network run, the post step its contract asks for drawn on its
    output (the landmarks shrunk with the crop), the change grown back to the crop's size and
    pasted (feathered) onto it."""
    import realtime

    face_filter = realtime.load_chain(spec, provider="cpu", variant=variant).filters[0]
    model = face_filter.model
    size = model.contract.work_size

    def apply(rgb: np.ndarray, code: int, landmarks: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        small = cv2.cvtColor(cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2BGR)
        sx, sy = size / w, size / h  # crop pixel x lands on (x + 0.5)·s − 0.5 of the shrunk crop
        m = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5]])
        out = face_filter.post(model.infer(small, code).image, landmarks, m, code)
        change = out.astype(np.float32) - small
        grown = cv2.cvtColor(cv2.resize(change, (w, h), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        return feathered(rgb, np.clip(rgb + grown, 0, 255))

    return apply


def network(spec: str, variant: str, candidates: Path | None = None) -> Apply | FaceApply:
    """The bundled filter's ``variant``, or the candidate file for it in ``candidates``
    (NAME.onnx for full, NAME.fast.onnx for fast) when there is one."""
    from realtime.filters.onnx_format import variant_path

    full = candidates / f"{spec}.onnx" if candidates is not None else None
    file = full if full is None or variant == "full" else variant_path(full, variant)
    runs, as_variant = (str(file), "full") if file is not None and file.is_file() else (spec, variant)
    return face_network(runs, as_variant) if spec in FACE_FILTERS else bundled(runs, as_variant)[0]


def score(subject: Subject, variants: list[str], candidates: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, list[np.ndarray]]]:
    """Rows for the 50 % blend and each variant, and each variant's outputs on the sheet photo (per style)."""
    from realtime.imaging import blend

    rows, sheet = [], {}
    blends = [Scores() for _ in subject.styles]
    for photo, outs in zip(subject.photos, subject.teachers):
        for i, t in enumerate(outs):
            blends[i].add(photo, t, blend(t, photo, 0.5))
    rows += [row(subject.filter, BLEND, style, None, s) for style, s in zip(subject.styles, blends)]
    for variant in variants:
        apply = network(subject.filter, variant, candidates)
        scores = [Scores() for _ in subject.styles]
        for j, (photo, outs) in enumerate(tqdm(list(zip(subject.photos, subject.teachers)), desc=f"{subject.filter} {variant}",
                                               unit="image", leave=False)):
            for code, t in enumerate(outs):
                out = apply(photo, code) if subject.landmarks is None else apply(photo, code, subject.landmarks[j])  # type: ignore[call-arg]
                scores[code].add(photo, t, out)
                if j == subject.sheet:
                    sheet.setdefault(variant, []).append(out)
        rows += [row(subject.filter, variant, style, code, s) for code, (style, s) in enumerate(zip(subject.styles, scores))]
        for r in rows[-len(subject.styles):]:
            print(f"{subject.filter} {variant} {r['style']}: G {r['gain'][1:4]}, A {r['amplitude'][1:4]}, "
                  f"L1 ratio {r['l1_ratio']}: {'pass' if r['pass'] else 'fail'}")
    return rows, sheet


def face_window(rgb: np.ndarray) -> tuple[int, int]:
    """Top-left corner of a TILE² window on the largest face (the picture's centre without one)."""
    from realtime.analysis.tracking import FaceTracker

    h, w = rgb.shape[:2]
    cx, cy = w / 2, h / 2
    tracker = FaceTracker(static=True, max_faces=4, max_side=1280)
    try:
        faces = tracker.faces(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), 0.0)
    finally:
        tracker.close()
    if faces:
        x0, y0, x1, y1 = max((f.box for f in faces), key=lambda b: (b[2] - b[0]) * (b[3] - b[1]))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return int(np.clip(cx - TILE / 2, 0, max(0, w - TILE))), int(np.clip(cy - TILE / 2, 0, max(0, h - TILE)))


def tile(rgb: np.ndarray, corner: tuple[int, int] | None, text: str = "") -> np.ndarray:
    """A TILE² panel: the window at ``corner`` at the picture's own pixels (None: the whole
    picture resized), with ``text`` in its corner."""
    if corner is None:
        t = cv2.resize(rgb, (TILE, TILE), interpolation=cv2.INTER_AREA)
    else:
        x, y = corner
        t = rgb[y : y + TILE, x : x + TILE]
        t = cv2.copyMakeBorder(t, 0, TILE - t.shape[0], 0, TILE - t.shape[1], cv2.BORDER_CONSTANT, value=(255, 255, 255))
    t = np.ascontiguousarray(t)
    if text:
        cv2.rectangle(t, (0, 0), (TILE, 18), (0, 0, 0), -1)
        cv2.putText(t, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 255), 1, cv2.LINE_AA)
    return t


def contact_sheet(subjects: list[Subject], outputs: dict[str, dict[str, list[np.ndarray]]], variants: list[str]) -> np.ndarray:
    """Rows: filter/style; columns: photo | teacher | each variant (RGB)."""
    rows = []
    for subject in subjects:
        photo = subject.photos[subject.sheet]
        corner = face_window(photo) if subject.filter not in FACE_FILTERS else None
        for i, style in enumerate(subject.styles):
            tiles = [tile(photo, corner, f"{subject.filter} / {style}"), tile(subject.teachers[subject.sheet][i], corner, "teacher")]
            tiles += [tile(outputs[subject.filter][v][i], corner, v) for v in variants]
            rows.append(np.concatenate(tiles, 1))
    return np.concatenate(rows, 0)


def fmt(r: dict[str, Any], key: str, k: int) -> str:
    """A band's value: plain when judged and met, ✗ when judged and missed, (in brackets) when the band is not judged."""
    v = r[key][k]
    if v is None:
        return "–"
    if k not in r["judged_bands"] or r["variant"] == BLEND:
        return f"({v})"
    return f"{v}" if r["checks"][f"{key[0].upper()}_{k}"] else f"**{v}** ✗"


def markdown(report: dict[str, Any]) -> str:
    g = report["goals"]
    scored = [f"{report['pictures']} held-out pictures at {report['short']} px short side"] if report["pictures"] else []
    scored += [f"{report['face_crops']} aligned {FACE_CROP}² face crops for aged"] if report["face_crops"] else []
    lines = [f"# Clone detail: network vs teacher band by band, held-out faces ({report['machine']})", "",
             f"{report['date']}; {' and '.join(scored)}, from {', '.join(report['holdout'])} (videos every {EVERY}th "
             "frame). Bands of the luminance's 5-level Laplacian pyramid (k = 0 finest, ~2^(k+1)–2^(k+2) px). "
             "G_k = ⟨N_k−P_k, T_k−P_k⟩/|T_k−P_k|² (the teacher's change made, in its direction), A_k = |N_k−P_k|/|T_k−P_k| "
             "(the change's strength), share = the band's part of the teacher's change |T_k−P_k|²; photo = 0, 50 % blend = "
             "0.5, teacher = 1. L1 ratio = L1(N,T)/L1(P,T). Chroma: mean Lab chroma of the output / the teacher.", "",
             f"Goals: in bands {', '.join(map(str, g['bands']))} holding ≥ {g['min_share']:.0%} of the teacher's change, "
             f"G ≥ {g['gain']} and {g['amplitude'][0]} ≤ A ≤ {g['amplitude'][1]}; L1 ratio ≤ {g['l1']}; grey teacher → "
             f"output chroma ≤ {g['grey_clone']}. Values in brackets: band not judged (band 0 never is; bands 1–3 when they "
             f"hold < {g['min_share']:.0%} of the change); **bold ✗**: goal missed.", "",
             "| filter | variant | style (code) | share 0 / 1 / 2 / 3 / rest | G_0 | G_1 | G_2 | G_3 | A_0 | A_1 | A_2 | A_3 | L1 ratio | chroma out / teacher | goals |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["rows"]:
        share = " / ".join("–" if s is None else f"{s:.1%}" for s in r["share"])
        code = "" if r["code"] is None else f" ({r['code']})"
        l1 = f"{r['l1_ratio']}" if r["variant"] == BLEND or r["checks"]["L1"] else f"**{r['l1_ratio']}** ✗"
        chroma = f"{r['chroma']['output']} / {r['chroma']['teacher']}" + (" ✗" if r["variant"] != BLEND and not r["checks"].get("grey", True) else "")
        if r["variant"] == BLEND:
            verdict = "reference"
        else:
            missed = [k for k, ok in r["checks"].items() if not ok]
            verdict = "pass" if r["pass"] else "fail: " + ", ".join(missed)
            verdict += "" if r["judged_bands"] else " (no band 1–3 judged)"
        lines.append(f"| {r['filter']} | {r['variant']} | {r['style']}{code} | {share} | "
                     + " | ".join(fmt(r, key, k) for key in ("gain", "amplitude") for k in (0, *GOAL_BANDS))
                     + f" | {l1} | {chroma} | {verdict} |")
    lines += ["", "| filter | variant | styles passing | mean G (judged bands) | mean A (judged bands) | mean L1 ratio |", "|---|---|---|---|---|---|"]
    for (f, v), rs in summary(report["rows"]).items():
        lines.append(f"| {f} | {v} | {sum(r['pass'] for r in rs)} of {len(rs)} | {mean_judged(rs, 'gain')} | "
                     f"{mean_judged(rs, 'amplitude')} | {round(float(np.mean([r['l1_ratio'] for r in rs])), 3)} |")
    lines += ["", "Contact sheet (sheet.jpg): rows filter / style, columns photo | teacher | "
              + " | ".join(report["variants"]) + f", a {TILE}² window at the picture's own pixels.", "",
              f"Reproduce: `{report['command']}`"]
    return "\n".join(lines) + "\n"


def summary(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Network rows grouped by (filter, variant)."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["variant"] != BLEND:
            out.setdefault((r["filter"], r["variant"]), []).append(r)
    return out


def mean_judged(rows: list[dict[str, Any]], key: str) -> float | None:
    vals = [r[key][k] for r in rows for k in r["judged_bands"] if r[key][k] is not None]
    return round(float(np.mean(vals)), 3) if vals else None


def plot(report: dict[str, Any], path: Path) -> None:
    plt = pyplot()

    filters = list(dict.fromkeys(r["filter"] for r in report["rows"]))
    fig, axes = plt.subplots(1, len(filters), figsize=(3.2 * len(filters) + 0.6, 3.6), sharey=True, squeeze=False)
    dashes = {"full": "-", "fast": "--"}
    for ax, f in zip(axes[0], filters):
        rows = [r for r in report["rows"] if r["filter"] == f and r["variant"] != BLEND]
        styles = list(dict.fromkeys(r["style"] for r in rows))
        for r in rows:
            gains = [np.nan if g is None else g for g in r["gain"]]
            ax.plot(range(len(gains)), gains, dashes.get(r["variant"], ":"), marker="o", markersize=3,
                    color=f"C{styles.index(r['style'])}", label=f"{r['style']} {r['variant']}")
        ax.axhline(GOAL_GAIN, color="k", linestyle="--", linewidth=0.8)
        ax.axhline(0.5, color="gray", linestyle=":", linewidth=0.8)
        ax.axhline(1.0, color="gray", linewidth=0.5)
        ax.axvspan(min(GOAL_BANDS) - 0.2, max(GOAL_BANDS) + 0.2, color="#eeeeee", zorder=0)
        ax.set_title(f, fontsize=9)
        ax.set_xticks(range(LEVELS), [str(k) if k < LEVELS - 1 else f"{k}\nrest" for k in range(LEVELS)], fontsize=7)
        ax.set_xlabel("band (0 = finest)", fontsize=8)
        ax.legend(fontsize=5.5, loc="lower right")
    axes[0][0].set_ylabel(f"gain G_k (1 = teacher, 0.5 = blend, goal {GOAL_GAIN} in bands 1-3)", fontsize=7)
    save_figure(fig, path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    from models.data.media import data_root

    p = command_line("benchmarks.clone_detail", __doc__)
    p.add_argument("--filter", nargs="+", default=list(FILTERS), help=f"cloned filters (default: {' '.join(FILTERS)})")
    p.add_argument("--variants", nargs="+", default=["full", "fast"], choices=["full", "fast"])
    add_holdout_args(p)
    p.add_argument("--short", type=int, default=384, help="short side of the pictures, px (default: %(default)s)")
    p.add_argument("--sheet", default="skimage__astronaut", help="file stem of the picture on the contact sheet "
                   "(default: %(default)s, public domain; the first picture when it is not held out)")
    p.add_argument("--out", type=Path, default=RESULTS / "clone-detail-cpu")
    p.add_argument("--candidates", type=Path,
                   help="a folder of NAME.onnx and/or NAME.fast.onnx files measured instead of the bundled full or fast "
                        "NAME: a network not released yet (python -m export onnx runs/NAME.pt -o DIR/NAME.onnx)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    unknown = [f for f in a.filter if f not in FILTERS]
    if unknown:
        raise UserError(f"no teacher for {', '.join(unknown)}: cloned filters are {', '.join(FILTERS)}")
    if a.candidates is not None and not a.candidates.is_dir():
        raise UserError(f"--candidates {a.candidates}: no such folder")
    problems = below_minimum(a, (("short", 2 ** (LEVELS + 1)),))
    if problems:
        raise UserError("; ".join(problems))
    variants = list(dict.fromkeys(a.variants))
    data = a.data or data_root()
    pixel = [f for f in a.filter if f not in FACE_FILTERS]
    pictures, stems = named_pictures(data, a.holdout, a.short) if pixel else ([], [])
    sheet = stems.index(a.sheet) if a.sheet in stems else 0
    rows, subjects, outputs, crops = [], [], {}, 0
    for spec in dict.fromkeys(a.filter):
        subject = face_subject(spec, data, a.holdout, a.sheet) if spec in FACE_FILTERS else pixel_subject(spec, pictures, sheet)
        crops = len(subject.photos) if spec in FACE_FILTERS else crops
        found, outputs[spec] = score(subject, variants, a.candidates)
        rows += found
        subjects.append(subject)
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "holdout": list(a.holdout), "pictures": len(pictures),
              "face_crops": crops, "short": a.short, "variants": variants,
              "goals": {"bands": list(GOAL_BANDS), "min_share": MIN_SHARE, "gain": GOAL_GAIN, "amplitude": list(GOAL_AMPLITUDE),
                        "l1": GOAL_L1, "grey_teacher": GREY_TEACHER, "grey_clone": GREY_CLONE},
              "command": "python -m benchmarks.clone_detail " + " ".join(argv if argv is not None else sys.argv[1:]),
              "rows": rows}
    save_report(a.out, report, markdown(report), lambda path: plot(report, path))
    sheet_path = a.out / "sheet.jpg"
    cv2.imwrite(str(sheet_path), cv2.cvtColor(contact_sheet(subjects, outputs, variants), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 82])
    print(f"contact sheet: {sheet_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
