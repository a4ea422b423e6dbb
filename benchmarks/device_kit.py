"""Ready, on this machine, what a session lent a GPU machine (the `device` tool) needs to run the
GPU benchmark there in its 15 minutes of device time, and the calls to make.

Why, with numbers (2026-12-07). A device call carries at most 64 MiB, the checkout included:
- this checkout's tracked files are 81 MB, over the limit by themselves. :func:`hide` takes out
  of what travels everything the GPU benchmark does not read (docs, tests, reports, training
  checkpoints, the CPU students, the face networks: the machine has no MediaPipe), ~21 MB
  stay; :func:`show` puts it back. Both change only git's index and ``.git/info/exclude``,
  never a file on disk, and ``show`` is the first thing to run after the calls.
- the machine's image has a CPU-only onnxruntime 1.30 and NVIDIA's CUDA 13 / cuDNN 9 pip
  libraries, but no onnxruntime-gpu. Its wheel is 256 MB (the CUDA provider alone 284 MB
  unpacked); :func:`pack` downloads the locked version for the image's Python 3.12, repacks it
  as an xz tar (204 MB, xz -6) and cuts it into pieces that fit beside the checkout, one per
  call on the same warm machine: the tool keeps ignored files in the checkout from call to call
  and gives the machine back 30 s after a call, so the calls go back to back.
- the fp16 export (onnxconverter-common) and platformdirs are not on the image: small wheels,
  carried with the last piece, with the Johnson baseline exported here (the image's torch is
  not needed for it).

    python -m benchmarks.device_kit pack    # .gpu/: the pieces, the wheels, the baseline, PLAN.md (the calls)
    python -m benchmarks.device_kit hide    # only what the benchmark reads travels
    python -m benchmarks.device_kit show    # everything back

TensorRT is not on the image and its wheels are over a gigabyte: the plan measures CUDA (with
the runtime's IO binding) and says so; the TensorRT rows wait for a machine that has it.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from realtime.errors import UserError, run_cli
from benchmarks.reporting import command_line

log = logging.getLogger("benchmarks.device_kit")
ROOT = Path(__file__).resolve().parent.parent
KIT = ".gpu"  # in the checkout, ignored (.gitignore)
LIMIT = 64 * 2**20  # what one device call may carry, checkout included
MARGIN = 2 * 2**20  # room for what the size count here does not see (git's own files are not sent)
PYTHON = "3.12"  # the device image's (KINDS.md)
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
WHEELS = ("onnxruntime-gpu", "onnxconverter-common", "platformdirs")  # what the image lacks
# what the GPU benchmark does not read: left out of what travels by `hide`
HIDDEN = ("docs", "tests", "benchmarks/results", "models/checkpoints", "realtime/bundled/*.fast.onnx",
          "run", ".ci", "requirements")  # and the face networks: hidden_paths()
BEGIN, END = "# device_kit hide: begin", "# device_kit hide: end"
MARKER = "device-kit-hidden.json"  # in .git: what hide took out of the index


def bundled_by_kind() -> dict[str, list[Path]]:
    """The bundled filters' fp32 files by the kind in their contracts (frame, face)."""
    from realtime.filters.onnx_format import read_contract
    from realtime.filters.registry import bundled_filters

    kinds: dict[str, list[Path]] = {}
    for path in bundled_filters().values():
        kinds.setdefault(read_contract(path).kind, []).append(path)
    return kinds


def frame_filters() -> tuple[str, ...]:
    """What the GPU benchmark measures: every bundled frame filter (the image has no MediaPipe
    for the face ones)."""
    return tuple(p.stem for p in bundled_by_kind().get("frame", []))


def hidden_paths() -> tuple[str, ...]:
    """:data:`HIDDEN` and the bundled face networks, as pathspecs of the checkout."""
    return HIDDEN + tuple(p.relative_to(ROOT).as_posix() for p in bundled_by_kind().get("face", []))


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def travelling(root: Path, without: tuple[str, ...] = ()) -> list[Path]:
    """The files a device call sends from ``root``: tracked, and untracked that git does not
    ignore; ``without``: as they will be once those patterns are hidden (:func:`hide`)."""
    spec = ["--", ".", *(f":(exclude){p}" for p in without)] if without else []
    names = git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", *spec).split("\0")
    return [root / n for n in names if n and (root / n).is_file()]


def travelling_bytes(root: Path, without: tuple[str, ...] = ()) -> int:
    return sum(p.stat().st_size for p in travelling(root, without))


def as_hidden(root: Path) -> list[Path]:
    """What travels from ``root`` once :func:`hide` has run (whether it has or not yet)."""
    return travelling(root, hidden_paths() if not marker_path(root).is_file() else ())


def exclude_path(root: Path) -> Path:
    """``.git/info/exclude`` of the checkout at ``root``."""
    path = Path(git(root, "rev-parse", "--git-path", "info/exclude").strip())
    return path if path.is_absolute() else root / path


def marker_path(root: Path) -> Path:
    path = Path(git(root, "rev-parse", "--git-path", MARKER).strip())
    return path if path.is_absolute() else root / path


def hide(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Take the tracked files under ``patterns`` out of what travels (out of the index, into the
    exclude file); the files stay where they are. Gives the paths taken out."""
    marker = marker_path(root)
    if marker.is_file():
        raise UserError(f"already hidden ({marker} exists): run `python -m benchmarks.device_kit show` first")
    if git(root, "diff", "--cached", "--name-only").strip():
        raise UserError("the index has staged changes: commit or unstage them first (show restores the index from HEAD)")
    paths = [p for p in git(root, "ls-files", "-z", "--", *patterns).split("\0") if p]
    marker.write_text(json.dumps(paths) + "\n")  # first: a cut session can still be undone
    if paths:
        for start in range(0, len(paths), 500):
            git(root, "rm", "-q", "--cached", "--", *paths[start:start + 500])
    path = exclude_path(root)
    kept = path.read_text() if path.is_file() else ""
    block = "\n".join([BEGIN, *(f"/{p}" for p in paths), END])
    path.write_text(kept.rstrip("\n") + ("\n" if kept.strip() else "") + block + "\n")
    return paths


def show(root: Path) -> list[str]:
    """Undo :func:`hide`: the paths back in the index (as HEAD has them), the exclude block gone."""
    marker = marker_path(root)
    if not marker.is_file():
        return []
    paths = json.loads(marker.read_text())
    for start in range(0, len(paths), 500):
        git(root, "reset", "-q", "HEAD", "--", *paths[start:start + 500])
    path = exclude_path(root)
    if path.is_file():
        lines, out, inside = path.read_text().splitlines(), [], False
        for line in lines:
            if line == BEGIN:
                inside = True
            elif line == END:
                inside = False
            elif not inside:
                out.append(line)
        path.write_text("\n".join(out) + ("\n" if out else ""))
    marker.unlink()
    return paths


def locked_version(lock: Path, name: str) -> str:
    """The version of ``name`` that ``requirements/lock.txt`` pins for the device's Python on Linux."""
    from packaging.markers import Marker

    env = {"python_full_version": f"{PYTHON}.3", "python_version": PYTHON, "sys_platform": "linux",
           "platform_machine": "x86_64", "platform_system": "Linux", "implementation_name": "cpython"}
    for line in lock.read_text().splitlines():
        spec, _, marker = line.partition(";")
        pkg, sep, version = spec.strip().partition("==")
        if sep and pkg.lower() == name.lower() and (not marker.strip() or Marker(marker.strip()).evaluate(env)):
            return version.strip()
    raise UserError(f"{lock} pins no {name} for Python {PYTHON} on Linux: run ./run lock")


def split(data_path: Path, piece: int) -> list[Path]:
    """``data_path`` cut into ``piece``-byte files NAME.00, NAME.01, … beside it (the file removed)."""
    pieces = []
    with data_path.open("rb") as f:
        for i in range(1000):
            chunk = f.read(piece)
            if not chunk:
                break
            out = data_path.with_name(f"{data_path.name}.{i:02d}")
            out.write_bytes(chunk)
            pieces.append(out)
    data_path.unlink()
    return pieces


def repack(wheel: Path, dst: Path) -> None:
    """The wheel's files as one xz tar (xz reaches 204 MB where the wheel's zip is 256 MB)."""
    with zipfile.ZipFile(wheel) as z, tarfile.open(dst, "w:xz", preset=6) as tar:
        for info in z.infolist():
            if info.is_dir():
                continue
            data = z.read(info)
            entry = tarfile.TarInfo(info.filename)
            entry.size, entry.mode = len(data), 0o755 if info.filename.endswith(".so") or ".so." in info.filename else 0o644
            tar.addfile(entry, io.BytesIO(data))


@dataclass(frozen=True)
class Call:
    carry: tuple[str, ...]
    command: str
    note: str


def device_command(filters: tuple[str, ...], frames: int, out: str = "/tmp/fps-gpu", provider: str = "cuda") -> str:
    """The last call's command: onnxruntime-gpu unpacked over the image's CPU onnxruntime (next to
    NVIDIA's pip libraries, where its own loader finds them), the wheels, the check that the
    runtime's probe gets ``provider``, then the benchmark; what comes back is the report (8
    files at most come back). ``provider`` cpu: the rehearsal here (:func:`rehearse`)."""
    extract = ("python3 -c \"import sys,tarfile;tarfile.open(fileobj=sys.stdin.buffer,mode='r|xz').extractall(sys.argv[1])\" $SP")
    check = ("python3 -c \"import onnxruntime as o;o.preload_dlls();print(o.__version__,o.get_available_providers());"
             f"import realtime.filters.providers as p;print('probe:',p.probe('{provider}'))\"")
    return "; ".join([
        "set -eo pipefail", f"cd {KIT} && sha256sum -c SHA256SUMS && cd ..",
        "SP=$(python3 -c 'import site;print(site.getsitepackages()[0])')",
        "python3 -m pip uninstall -q -y onnxruntime", f"cat {KIT}/ort.tar.xz.* | {extract}",
        f"python3 -m pip install -q --no-index --no-deps --target /tmp/site {KIT}/wheels/*.whl",
        "export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1", *(["nvidia-smi -L"] if provider != "cpu" else []), check,
        f"mkdir -p {out} && cp {KIT}/baseline_johnson_fp32.onnx {out}/",
        f"python3 -m benchmarks.fps --providers {provider} --sizes 1920x1080 --filter {' '.join(filters)} --variants full "
        f"--precisions fp32 fp16 --source synthetic --frames {frames} --baseline-frames {min(60, frames)} --live-fps 120 --ssim-frames 0 "
        f"--look-frames 0 --no-startup --out {out} 2>&1 | tee $OUT/fps.log",
        f"cp {out}/fps.json {out}/fps.md {out}/fps.png $OUT/",
    ])


def plan(pieces: list[Path], extras: list[Path], tree: int, filters: tuple[str, ...], frames: int) -> list[Call]:
    """One call per piece, the last with the extras and the benchmark; refused when a call
    would carry more than a call may."""
    calls = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        carry = [piece, *(extras if last else [])]
        size = tree + sum(p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) for p in carry)
        if size > LIMIT - MARGIN:
            raise UserError(f"call {i + 1} would carry {size / 2**20:.1f} MiB (the checkout {tree / 2**20:.1f}): over "
                            f"the {(LIMIT - MARGIN) / 2**20:.0f} MiB a call may; run `hide` first or pack with a smaller --piece-mib")
        rel = tuple(str(p.relative_to(p.parents[1])) for p in carry)
        command = device_command(filters, frames) if last else f"ls -l {KIT}"
        calls.append(Call(rel, command, f"{size / 2**20:.1f} MiB"))
    return calls


def write_plan(kit: Path, calls: list[Call], version: str) -> Path:
    lines = ["# The GPU benchmark's device calls", "",
             f"onnxruntime-gpu {version} in {len(calls)} pieces. Before: `python -m benchmarks.device_kit hide`; "
             "after, whatever happened: `python -m benchmarks.device_kit show`. Make the calls back to back (the machine "
             "goes back 30 s after a call and takes the pieces with it; then start again from call 1). Commit what comes "
             "back under benchmarks/results/ with this plan.", ""]
    for i, call in enumerate(calls, 1):
        lines += [f"## Call {i} ({call.note})", "", f"carry: {json.dumps(list(call.carry))}", "", "```", call.command, "```", ""]
    path = kit / "PLAN.md"
    path.write_text("\n".join(lines))
    return path


def pack(root: Path, piece_mib: float, filters: tuple[str, ...], frames: int) -> Path:
    kit = root / KIT
    tree = sum(p.stat().st_size for p in as_hidden(root))
    if tree + piece_mib * 2**20 > LIMIT - MARGIN:
        raise UserError(f"the checkout travels as {tree / 2**20:.1f} MiB even hidden: a {piece_mib:g} MiB piece beside it is over the "
                        f"{(LIMIT - MARGIN) / 2**20:.0f} MiB a call may; pack with --piece-mib {max(1, int((LIMIT - MARGIN - tree) / 2**20))}")
    if kit.exists():
        shutil.rmtree(kit)
    (kit / "wheels").mkdir(parents=True)
    lock = root / "requirements" / "lock.txt"
    pins = [f"{name}=={locked_version(lock, name)}" for name in WHEELS]
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", PYTHON,
               "--implementation", "cp", *(a for p in PLATFORMS for a in ("--platform", p)), "-d", tmp, *pins]
        log.info("downloading %s", " ".join(pins))
        if subprocess.run(cmd).returncode:
            raise UserError(f"pip could not download {' '.join(pins)} for Python {PYTHON}: is the package index reachable?")
        ort = next(Path(tmp).glob("onnxruntime_gpu-*.whl"))
        for wheel in Path(tmp).glob("*.whl"):
            if wheel != ort:
                shutil.copy2(wheel, kit / "wheels" / wheel.name)
        log.info("repacking %s as xz (a minute or two)", ort.name)
        repack(ort, kit / "ort.tar.xz")
    pieces = split(kit / "ort.tar.xz", int(piece_mib * 2**20))
    sums = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}" for p in pieces]
    (kit / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    log.info("xz tar in %d pieces, each with its SHA-256 in SHA256SUMS", len(pieces))
    from benchmarks.fps import baseline_onnx

    baseline_onnx(kit)
    extras = [kit / "wheels", kit / "baseline_johnson_fp32.onnx", kit / "SHA256SUMS"]
    version = pins[0].split("==")[1]
    return write_plan(kit, plan(pieces, extras, tree, filters, frames), version)


def rehearse(root: Path, python: Path, frames: int) -> Path:
    """The last call's command run here, in a throwaway virtual environment built like the
    device's image (its ``python``: Python 3.12, numpy 2, onnx 1.23, onnxruntime 1.30, which the
    command replaces), on a copy of what the calls carry, with the CPU provider where the device
    has CUDA. Gives the folder its report came back to."""
    kit = root / KIT
    if not (kit / "SHA256SUMS").is_file():
        raise UserError(f"no kit in {kit}: run `python -m benchmarks.device_kit pack` first")
    if not (python.parent / "activate").is_file():
        raise UserError(f"{python} is not a virtual environment's python: rehearse replaces its onnxruntime, so give a throwaway one")
    work = Path(tempfile.mkdtemp(prefix="device-rehearsal-"))
    for src in as_hidden(root):
        dst = work / src.relative_to(root)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    shutil.copytree(kit, work / KIT, ignore=shutil.ignore_patterns("PLAN.md"))
    (work / "out").mkdir()
    site = work / "site"
    command = device_command(frame_filters()[:2], frames, out=str(work / "fps"), provider="cpu").replace("/tmp/site", str(site))
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(Path.home()), "OUT": str(work / "out")}
    log.info("rehearsing the last call in %s", work)
    if subprocess.run(["bash", "-c", command], cwd=work, env=env).returncode:
        raise UserError(f"the last call's command failed in the rehearsal (its files: {work})")
    return work / "out"


def main(argv: list[str] | None = None) -> int:
    p = command_line("benchmarks.device_kit", __doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="verb", required=True)
    packing = sub.add_parser("pack", help="download, repack and cut onnxruntime-gpu; write .gpu/PLAN.md")
    packing.add_argument("--piece-mib", type=float, default=40.0, help="size of a piece (the checkout travels beside it)")
    packing.add_argument("--filter", nargs="+", help="the frame filters to measure (default: every bundled one)")
    packing.add_argument("--frames", type=int, default=300)
    sub.add_parser("hide", help="only what the GPU benchmark reads travels with the device calls")
    sub.add_parser("show", help="undo hide")
    rehearsal = sub.add_parser("rehearse", help="the last call's command here, with the CPU provider, in a throwaway venv like the image's")
    rehearsal.add_argument("--python", type=Path, required=True, help="that venv's python3 (its onnxruntime is replaced)")
    rehearsal.add_argument("--frames", type=int, default=20)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.verb == "pack":
        if not 1 <= a.piece_mib <= 60:
            raise UserError(f"--piece-mib must be from 1 to 60 (a call carries 64 MiB with the checkout), got {a.piece_mib:g}")
        print(f"the calls: {pack(ROOT, a.piece_mib, tuple(a.filter or frame_filters()), a.frames)}")
    elif a.verb == "rehearse":
        print(f"the report: {rehearse(ROOT, a.python, a.frames)}")
    elif a.verb == "hide":
        paths = hide(ROOT, hidden_paths())
        print(f"{len(paths)} files no longer travel; {travelling_bytes(ROOT) / 2**20:.1f} MiB do. Undo: python -m benchmarks.device_kit show")
    else:
        print(f"{len(show(ROOT))} files travel again; {travelling_bytes(ROOT) / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
