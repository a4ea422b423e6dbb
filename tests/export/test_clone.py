"""realtime-export clone: a user's before/after pictures -> a filter in their library.

The end-to-end test clones a known classical filter (the graphite sketch of
models.teachers.classical) from 12 generated pairs at 72x96: interrupted during training
(Ctrl-C), resumed by the same command, installed, listed, run by name, and closer to the afters
than the photos are. The other tests feed it bad folders: one line each, before any work."""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from realtime.filters import library
from tests.conftest import run_export, assert_one_line, synthetic_photo




def sketch(rgb: np.ndarray) -> np.ndarray:
    from models.teachers.classical import SKETCH_STYLES
    from models.teachers.classical import sketch as draw

    return draw(rgb, SKETCH_STYLES["graphite"])


def write_pairs(folder: Path, n: int = 12, layout: str = "before/after", hw: tuple[int, int] = (72, 96)) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` synthetic photos and their graphite sketches, in ``layout``; the (before, after) RGB pairs."""
    pairs = []
    for i in range(n):
        before = synthetic_photo(*hw, seed=100 + i)
        after = sketch(before)
        if layout == "before/after":
            paths = (folder / "before" / f"p{i}.jpg", folder / "after" / f"p{i}.png")
        elif layout == "inputs/outputs":
            paths = (folder / "inputs" / f"p{i}.png", folder / "outputs" / f"p{i}.png")
        else:
            paths = (folder / f"p{i}.png", folder / f"p{i}_after.png")
        for path, img in zip(paths, (before, after)):
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
        pairs.append((before, after))
    return pairs


def test_clone_interrupted_resumed_installed_and_run_by_name(data_home, tmp_path, monkeypatch, capsys):
    import models.train_pairs
    import realtime
    from realtime.cli import list_filters

    pairs = write_pairs(tmp_path / "pairs")
    start = time.perf_counter()
    real_batch, calls = models.train_pairs.batch, {"n": 0}

    def interrupted(*a, **k):  # Ctrl-C during the 21st training step
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt
        return real_batch(*a, **k)

    monkeypatch.setattr(models.train_pairs, "batch", interrupted)
    code, out, err = run_export(monkeypatch, capsys, "clone", tmp_path / "pairs", "--name", "my_sketch", "--steps", "80")
    assert code == 130 and "run the same command again to continue" in err
    from models.networks.checkpoint import read_checkpoint

    work = data_home / "work" / "clone-my_sketch"
    assert read_checkpoint(work / "full.pt")["train_state"]["step"] == 20
    assert library.find("my_sketch") is None, "nothing installed by an interrupted clone"

    monkeypatch.setattr(models.train_pairs, "batch", real_batch)
    code, out, err = run_export(monkeypatch, capsys, "clone", tmp_path / "pairs", "--name", "my_sketch", "--steps", "80")
    seconds = time.perf_counter() - start
    assert code == 0, err
    assert "resuming" in out and "held-back pairs" in out and "L1 ratio" in out and "G_1" in out and "G_3" in out
    assert not work.exists(), "the work folder goes once the clone is installed"
    print(out)
    print(f"clone of 12 pairs at 72x96, 80 + 20 steps, interrupted once: {seconds:.0f} s")

    entry = library.find("my_sketch")
    assert entry is not None and sorted(entry.variants) == ["fast", "fp16", "full"] and entry.thumbnail is not None
    measures = entry.card["measures"]
    assert measures["l1_ratio"] < 0.9, measures  # closer to the afters than the photos are (1 = the photo)
    assert set(measures["band_gains"]) == {"G_1", "G_2", "G_3"}
    assert entry.card["pairs"] == {"train": 10, "held_back": 2}
    assert (entry.card["steps"], entry.card["distil_steps"]) == (80, 20), "the interrupted training went on from step 20 to 80"

    # runs by name, as realtime runs it (the fast student on CPU)
    before, after = pairs[5]
    got = realtime.load_chain("my_sketch", provider="cpu").apply(cv2.cvtColor(before, cv2.COLOR_RGB2BGR))
    got = cv2.cvtColor(got, cv2.COLOR_BGR2RGB).astype(np.float32)
    assert np.abs(got - after).mean() < np.abs(before.astype(np.float32) - after).mean()
    assert realtime.load_chain("my_sketch+auto_frame", provider="cpu").apply(np.zeros((48, 64, 3), np.uint8)).shape == (48, 64, 3)

    assert list_filters() == 0
    listed = capsys.readouterr().out
    assert any(line.startswith("my_sketch") and "yours" in line for line in listed.splitlines())
    code, out, _ = run_export(monkeypatch, capsys, "list")
    assert code == 0 and "my_sketch" in out and "L1 ratio" in out


@pytest.mark.parametrize("layout", ["before/after", "inputs/outputs", "flat"])
def test_each_layout_is_found(tmp_path, layout):
    from export.clone import find_pairs

    write_pairs(tmp_path, n=3, layout=layout, hw=(40, 48))
    found, pairs, problems = find_pairs(tmp_path)
    assert len(pairs) == 3 and not problems, (found, problems)
    assert [p.name for p in pairs] == ["p0", "p1", "p2"]


def test_before_and_after_suffixes_pair_up(tmp_path):
    from export.clone import find_pairs

    img = synthetic_photo(40, 48, 0)
    for name in ("a_before.jpg", "a_after.jpg", "b.png", "b-after.png", "lonely.png"):
        cv2.imwrite(str(tmp_path / name), img)
    _, pairs, problems = find_pairs(tmp_path)
    assert sorted((p.before.name, p.after.name) for p in pairs) == [("a_before.jpg", "a_after.jpg"), ("b.png", "b-after.png")]
    assert problems == ["lonely.png has no after picture (no lonely_after.*)"]


def test_bad_pairs_are_reported_one_line_each_before_any_work(data_home, tmp_path, monkeypatch, capsys):
    import models.train_pairs

    def forbidden(*a, **k):
        raise AssertionError("training started before the bad input was reported")

    monkeypatch.setattr(models.train_pairs, "train", forbidden)
    empty = tmp_path / "empty"
    empty.mkdir()
    few = tmp_path / "few"
    write_pairs(few, n=3)
    code, _, err = run_export(monkeypatch, capsys, "clone", empty, "--name", "x")
    assert_one_line(code, err, "holds no before/after pairs")
    code, _, err = run_export(monkeypatch, capsys, "clone", few, "--name", "x")
    assert_one_line(code, err, "3 pairs found", "at least 8")
    code, _, err = run_export(monkeypatch, capsys, "clone", tmp_path / "nowhere", "--name", "x")
    assert_one_line(code, err, "is not a folder")
    code, _, err = run_export(monkeypatch, capsys, "clone", few, "--name", "cartoon")
    assert_one_line(code, err, "pick another name with --name")
    code, _, err = run_export(monkeypatch, capsys, "clone", few, "--name", "a+b")
    assert_one_line(code, err, "is not allowed")
    half = tmp_path / "half"
    (half / "before").mkdir(parents=True)
    code, _, err = run_export(monkeypatch, capsys, "clone", half, "--name", "x")
    assert_one_line(code, err, "has before/ but no after/")

    bad = tmp_path / "bad"
    write_pairs(bad, n=10)
    other = synthetic_photo(72, 96, seed=999)
    cv2.imwrite(str(bad / "after" / "p1.png"), cv2.cvtColor(sketch(other), cv2.COLOR_RGB2BGR))  # another picture's sketch
    before2 = cv2.imread(str(bad / "before" / "p2.jpg"))
    cv2.imwrite(str(bad / "after" / "p2.png"), np.roll(sketch(cv2.cvtColor(before2, cv2.COLOR_BGR2RGB)), 8, axis=1)[..., ::-1])
    cv2.imwrite(str(bad / "after" / "p3.png"), cv2.resize(cv2.imread(str(bad / "after" / "p3.png")), (48, 36)))
    (bad / "before" / "p4.jpg").write_bytes(b"not a picture")
    cv2.imwrite(str(bad / "before" / "stray.jpg"), before2)
    code, _, err = run_export(monkeypatch, capsys, "clone", bad, "--name", "x")
    problems = [line for line in err.splitlines() if line.startswith("problem:")]
    assert_one_line(code, err, "5 problems")
    text = "\n".join(problems)
    assert len(problems) == 5, err
    for needle in ("after/p1.png does not match before/p1.jpg", "after/p2.png is shifted", "before/p3.jpg is 96x72 but after/p3.png is 48x36",
                   "before/p4.jpg does not read", "before/stray.jpg has no after picture"):
        assert needle in text, (needle, text)
    assert not (data_home / "work").exists() or not list((data_home / "work").iterdir()), "nothing staged for bad pairs"


def test_a_clash_with_an_installed_filter_is_one_line(data_home, tmp_path, monkeypatch, capsys):
    from realtime.filters.registry import reserved_names
    from tests.conftest import make_onnx_filter

    library.install(library.source_of(make_onnx_filter(tmp_path / "swap.onnx")), "mine", reserved_names())
    write_pairs(tmp_path / "pairs", n=8)
    code, _, err = run_export(monkeypatch, capsys, "clone", tmp_path / "pairs", "--name", "mine", "--steps", "5")
    assert_one_line(code, err, "installed already", "--replace")


def test_band_gains_are_benchmarks_bands(tmp_path):
    """export may not import benchmarks: its copy of the band gain must stay the benchmark's."""
    from benchmarks.bands import ChangeSums
    from export.clone import BandGains

    rng = np.random.default_rng(0)
    ours, theirs = BandGains(), ChangeSums()
    for i in range(3):
        p = synthetic_photo(64, 80, i)
        t = sketch(p)
        n = np.clip(0.6 * t + 0.4 * p + rng.normal(0, 3, p.shape), 0, 255).astype(np.uint8)
        ours.add(p, t, n)
        theirs.add(p, t, n)
    assert np.allclose(ours.gain(), theirs.gain(), rtol=1e-6, equal_nan=True)


def test_split_holds_back_a_fifth_the_same_way_every_time():
    from export.clone import Pair, split

    pairs = [Pair(f"p{i:02d}", Path(f"b{i}"), Path(f"a{i}")) for i in range(12)]
    train, held = split(pairs)
    assert len(held) == 2 and len(train) == 10 and not {p.name for p in held} & {p.name for p in train}
    assert split(pairs) == (train, held)
    assert len(split(pairs * 3)[1]) == 7


def test_the_time_budget_stops_a_stage_at_its_deadline():
    import types

    import models.distill
    import models.train_pairs
    from export.clone import MIN_STEPS, BudgetReached, deadline

    assert callable(models.train_pairs.batch) and callable(models.distill.content_batch), "the functions the deadline wraps"
    module = types.SimpleNamespace(__name__="fake", draw=lambda: "batch")
    with deadline(module, "draw", time.monotonic() + 60):
        assert module.draw() == "batch"
    with deadline(module, "draw", time.monotonic() - 1):
        assert [module.draw() for _ in range(MIN_STEPS)] == ["batch"] * MIN_STEPS  # a stage always gets a few steps
        with pytest.raises(BudgetReached):
            module.draw()
    assert module.draw() == "batch", "restored"
    with deadline(module, "draw", None):
        assert module.draw() == "batch"
