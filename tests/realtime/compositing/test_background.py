"""Background blur, replacement and removal by person segmentation; --filter-region; the b hotkey."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import realtime
from realtime.analysis.analysers import PERSON, AnalysisOptions
from realtime.compositing.background import (
    REMOVE_COLOUR, BlurBackdrop, ColourBackdrop, ImageBackdrop, VideoBackdrop, background_modes, masked_blur,
    in_255ths, mix, parse_background,
)
from realtime.filters.chain import Chain
from realtime.live.controls import Controls, ControlState
from realtime.errors import UserError
from realtime.live.process import FrameProcessor
from realtime.analysis.segmentation import MaskConfig, PersonSegmenter, refine, temporal_smooth
from tests.conftest import assert_one_line, run_realtime, synthetic_photo


def person_scene(h: int = 240, w: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """A bright 'person' (an ellipse) on a dark textured room, and its exact mask."""
    room = (synthetic_photo(h, w, 3).astype(np.float32) * 0.25).astype(np.uint8)
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h), (w // 5, int(h * 0.8)), 0, 0, 360, 1.0, -1)
    image = room.copy()
    image[mask > 0.5] = (235, 235, 235)
    return image, mask


# ---------------------------------------------------------------------------------- parsing
def test_every_background_mode_parses():
    assert parse_background(None) is None and parse_background("none") is None
    blur = parse_background("blur")
    assert isinstance(blur, BlurBackdrop) and blur.strength == 0.5
    assert parse_background("blur:0.8").strength == 0.8
    removed = parse_background("remove")
    assert isinstance(removed, ColourBackdrop) and removed.colour == REMOVE_COLOUR == (0, 255, 0)
    assert parse_background("#ff8000").colour == (0, 128, 255)  # BGR
    assert parse_background("#f00").colour == (0, 0, 255)
    assert parse_background("Blue").colour == (255, 0, 0)


def test_image_and_video_backgrounds_are_read_up_front(tmp_path, data_dir):
    img = tmp_path / "wall.png"
    cv2.imwrite(str(img), synthetic_photo(90, 160, 1))
    backdrop = parse_background(str(img))
    assert isinstance(backdrop, ImageBackdrop) and backdrop.image.shape == (90, 160, 3)
    video = parse_background(str(data_dir / "videos" / "liveportrait__d18.mp4"))
    assert isinstance(video, VideoBackdrop)
    frame, person = person_scene()
    first = video.compose(frame, person)
    for _ in range(220):  # past the video's end (216 frames): it loops
        last = video.compose(frame, person)
    assert last.shape == frame.shape and not np.array_equal(first, last)
    video.close()


@pytest.mark.parametrize("text, needle", [
    ("blur:0", "blur strength"), ("blur:2", "blur strength"), ("blur:x", "blur strength"),
    ("nowhere.png", "no such file"), ("#12345", "no such file"),
])
def test_bad_background_text_is_one_line(text, needle):
    with pytest.raises(UserError, match=needle) as info:
        parse_background(text)
    assert "\n" not in str(info.value)


def test_corrupt_or_empty_background_files_are_one_line(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "bad.mp4").write_bytes(b"\x00" * 4000)
    for name, needle in [("bad.png", "not an image"), ("empty.jpg", "empty"), ("bad.mp4", "cannot read a frame")]:
        with pytest.raises(UserError, match=needle):
            parse_background(str(tmp_path / name))
    with pytest.raises(UserError, match="folder"):
        parse_background(str(tmp_path))


def test_the_b_hotkey_cycles_the_asked_mode_then_blur_remove_none():
    names = [m.name if m else None for m in background_modes(parse_background("#0000ff"))]
    assert names == ["#0000ff", "blur", "remove", None]
    assert [m.name if m else None for m in background_modes(None)] == [None, "blur", "remove"]
    controls = Controls(ControlState(), options=1, backgrounds=4)
    seen = []
    for _ in range(5):
        controls.handle(ord("b"))
        seen.append(controls.state().background)
    assert seen == [1, 2, 3, 0, 1]


# ---------------------------------------------------------------------------------- mask refinement
def test_masked_blur_does_not_bleed_the_person_into_the_room():
    """The halo: a bright person blurred into a dark room brightens the room around them.
    The masked, normalised blur keeps the room's own brightness next to the person."""
    image, mask = person_scene()
    ring = (cv2.dilate(mask, np.ones((15, 15), np.uint8)) > 0.5) & (mask < 0.5)  # room pixels within 7 px
    room_level = image[(mask < 0.5) & ~ring].mean()
    ours = masked_blur(image, mask, sigma=12)
    naive = cv2.GaussianBlur(image, (0, 0), 12)
    assert naive[ring].mean() > room_level + 40, "the test scene must show the halo for a plain blur"
    assert abs(ours[ring].mean() - room_level) < 12, (ours[ring].mean(), room_level)


@pytest.mark.parametrize("strength", [0.5, 1.0])
def test_at_720p_the_small_blur_keeps_the_person_out_of_the_room(strength: float) -> None:
    """At 1280x720 the blur runs at 1/8 and 1/16 of the frame: the room next to the person
    keeps its own level (a shrink before the room weighting averaged the person into it)."""
    from realtime.compositing.background import blur_scale, blur_sigma

    image, mask = person_scene(720, 1280)
    sigma = blur_sigma(strength, image.shape)
    assert blur_scale(sigma) <= 1 / 8
    ring = (cv2.dilate(mask, np.ones((25, 25), np.uint8)) > 0.5) & (mask < 0.5)  # room pixels within 12 px
    room_level = image[(mask < 0.5) & ~ring].mean()
    ours = masked_blur(image, mask, sigma)
    assert abs(ours[ring].mean() - room_level) < 6, (ours[ring].mean(), room_level)


@pytest.mark.parametrize("hw", [(384, 683), (361, 641)])
def test_an_odd_sized_frame_blurs_as_if_its_edge_were_repeated_to_whole_small_pixels(hw: tuple[int, int]) -> None:
    """Sides that are not a multiple of the small pixel (the 683x384 copy a chain composes
    cartoon's output on) are shrunk by whole factors after their last row and column are
    repeated up to one: the blur is that frame's, cut back, with no seam at the edge, and the
    room keeps its level next to the person."""
    from realtime.compositing.background import blur_scale

    image, mask = person_scene(*hw)
    h, w = hw
    sigma = 12.0
    step = 2 * round(1 / (2 * blur_scale(sigma)))
    ph, pw = -h % step, -w % step
    assert ph or pw, "the test frame must not be a whole number of small pixels"
    odd = masked_blur(image, mask, sigma)
    repeated = masked_blur(cv2.copyMakeBorder(image, 0, ph, 0, pw, cv2.BORDER_REPLICATE),
                           cv2.copyMakeBorder(mask, 0, ph, 0, pw, cv2.BORDER_REPLICATE), sigma)
    assert odd.shape == image.shape and odd.flags.c_contiguous
    np.testing.assert_array_equal(odd, repeated[:h, :w])
    seen = mix(image, odd, mask)  # the person over the blurred room
    for edge, inner in ((seen[:, -1], seen[:, -2]), (seen[-1], seen[-2])):  # no seam at the last row and column
        assert np.abs(edge.astype(int) - inner).mean() < 2
    ring = (cv2.dilate(mask, np.ones((15, 15), np.uint8)) > 0.5) & (mask < 0.5)
    assert abs(odd[ring].mean() - image[(mask < 0.5) & ~ring].mean()) < 12


def test_a_frame_without_background_falls_back_to_a_plain_blur():
    image, _ = person_scene()
    out = masked_blur(image, np.ones(image.shape[:2], np.float32), sigma=8)
    assert out.shape == image.shape and np.isfinite(out).all()


def test_guided_refinement_snaps_a_blurry_mask_to_the_image_edge():
    image, truth = person_scene(180, 320)
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32) / 255
    coarse = cv2.GaussianBlur(cv2.resize(cv2.resize(truth, (64, 36)), (320, 180)), (0, 0), 3)  # what a 64-px model gives
    small_gray = cv2.resize(gray, (160, 90), interpolation=cv2.INTER_AREA)
    refined = refine(cv2.resize(coarse, (160, 90)), small_gray, gray, radius=3, eps=2e-3, edge=2.0)
    assert refined.shape == truth.shape and refined.dtype == np.float32
    assert np.abs(refined - truth).mean() < 0.6 * np.abs(coarse - truth).mean()

    # in 255ths (the live analyser's): the float mask rounded, clipped where the fit overshoots
    in_bytes = refine(cv2.resize(coarse, (160, 90)), small_gray, gray, radius=3, eps=2e-3, edge=2.0, as_255ths=True)
    assert in_bytes.dtype == np.uint8 and np.array_equal(in_bytes, in_255ths(refined))
    unclipped = refine(cv2.resize(coarse, (160, 90)), small_gray, gray, radius=3, eps=2e-3, edge=6.0)
    steep = refine(cv2.resize(coarse, (160, 90)), small_gray, gray, radius=3, eps=2e-3, edge=6.0, as_255ths=True)
    assert (steep == 0).any() and (steep == 255).any() and np.array_equal(steep, in_255ths(unclipped))


def test_temporal_smoothing_calms_flicker_and_follows_motion():
    previous = np.full((4, 4), 0.5, np.float32)
    flicker = previous + 0.1
    assert np.allclose(temporal_smooth(previous, flicker, keep=0.4, snap=0.35), 0.56)
    moved = previous.copy()
    moved[0, 0] = 1.0  # an arm moved in: taken at once
    out = temporal_smooth(previous, moved, keep=0.4, snap=0.35)
    assert out[0, 0] == 1.0 and np.isclose(out[1, 1], 0.5)


def test_mask_settings_report_every_problem_at_once():
    with pytest.raises(UserError) as info:
        MaskConfig(model="huge", keep=1.5, radius=0)
    assert all(word in str(info.value) for word in ("model", "keep", "radius"))


# ---------------------------------------------------------------------------------- real photos
@pytest.fixture(scope="module")
def segmenter():
    s = PersonSegmenter(MaskConfig(model="general"), static=True)
    yield s
    s.close()


def test_the_person_is_masked_on_a_real_photo(segmenter, face_photo):
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    mask = segmenter(bgr)
    assert mask.shape == bgr.shape[:2] and mask.dtype == np.float32
    assert 0.0 <= mask.min() and mask.max() <= 1.0
    assert mask[70:150, 190:260].mean() > 0.9, "the astronaut's face"
    assert mask[:60, :60].mean() < 0.2 and mask[:60, -60:].mean() < 0.2, "the room above her shoulders"


@pytest.mark.parametrize("name", ["neural_style__tubingen.jpg", "neural_style__hoovertowernight.jpg", "face_alignment__grass.jpg"])
def test_a_photo_without_a_person_is_all_background(segmenter, data_dir, name):
    """(Pets are not in this list: the selfie model takes a cat or dogs for a person.)"""
    bgr = cv2.imread(str(data_dir / "faces" / "noface" / name))
    mask = segmenter(bgr)
    assert mask.mean() < 0.02
    out = ColourBackdrop((255, 0, 255)).compose(bgr, mask)
    assert (np.abs(out.astype(int) - (255, 0, 255)).sum(axis=2) < 30).mean() > 0.97, "the whole frame is replaced"
    blurred = BlurBackdrop(1.0).compose(bgr, mask)
    assert np.abs(cv2.Laplacian(blurred, cv2.CV_32F)).mean() < 0.5 * np.abs(cv2.Laplacian(bgr, cv2.CV_32F)).mean()


def test_a_still_stream_reuses_the_mask(face_photo):
    s = PersonSegmenter()
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    first = s(bgr)
    second = s(bgr.copy())
    assert s.reused == 1 and np.allclose(first, second, atol=0.02)
    s(np.ascontiguousarray(bgr[:, ::-1]))  # a real change runs the model again
    assert s.reused == 1
    s.close()


def test_library_background_and_region(face_photo):
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    green = realtime.load_chain("none", background="remove").apply(bgr)
    assert np.abs(green[:40, :40].astype(int) - (0, 255, 0)).max() < 10, "the room is green"
    assert np.abs(green[80:150, 190:260].astype(int) - bgr[80:150, 190:260]).max() < 3, "the face is kept"
    styled = realtime.load_chain("candy", provider="cpu", region="person").apply(bgr)
    assert np.abs(styled[:40, :40].astype(int) - bgr[:40, :40]).max() <= 2, "the room is not styled"
    assert np.abs(styled[80:150, 190:260].astype(int) - bgr[80:150, 190:260]).mean() > 20, "the person is"
    room_only = realtime.load_chain("candy", provider="cpu", region="background").apply(bgr)
    assert np.abs(room_only[80:150, 190:260].astype(int) - bgr[80:150, 190:260]).max() <= 3
    with pytest.raises(UserError, match="region"):
        realtime.load_chain("candy", region="hat")


def test_a_chain_without_background_never_segments(monkeypatch):
    import realtime.analysis.analysers as analysis

    def refuse(options: AnalysisOptions) -> None:
        raise AssertionError("no background, no region: the person mask must not be made")

    monkeypatch.setitem(analysis.ANALYSERS, PERSON, analysis.AnalyserKind(refuse))
    chain = realtime.load_chain("candy", provider="cpu")
    assert chain.apply(synthetic_photo(90, 120, 0)).shape == (90, 120, 3)


def test_the_processor_segments_only_while_a_background_is_on(face_photo):
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    processor = FrameProcessor([Chain([])], temporal=False, backgrounds=background_modes(parse_background("blur")))
    on = processor(bgr, 0.0, ControlState())
    assert on.background == "blur" and "person" in on.ms and "background" in on.ms
    off = processor(bgr, 0.033, ControlState(background=2 + 0))  # [blur, remove, None]: index 2 = none
    assert off.background == "" and "person" not in off.ms and np.array_equal(off.image, bgr)
    processor.close()


# ---------------------------------------------------------------------------------- the command line
run_cli = run_realtime


def test_background_only_on_a_real_video(monkeypatch, capsys, tmp_path, data_dir):
    out, stats = tmp_path / "o.mp4", tmp_path / "s.json"
    code, err = run_cli(monkeypatch, capsys, "--background", "remove", "--source", str(data_dir / "videos" / "liveportrait__d9.mp4"),
                        "--no-preview", "--output", str(out), "--frames", "20", "--fast", "--stats", str(stats))
    assert code == 0, err
    summary = json.loads(stats.read_text())
    assert summary["filters"] == "none" and "person" in summary["stages_ms"] and "track" not in summary["stages_ms"]
    cap = cv2.VideoCapture(str(out))
    frame = cap.read()[1]
    cap.release()
    corner = frame[:40, :40].astype(int)
    assert np.abs(corner - (0, 255, 0)).mean() < 25, "the room behind the person is green"


def test_no_filter_and_no_background_asks_for_one(monkeypatch, capsys):
    assert_one_line(*run_cli(monkeypatch, capsys, "--source", "synthetic", "--no-preview"), "--filter NAME", "--background")


@pytest.mark.parametrize("args, needle", [
    (["--background", "missing.jpg"], "no such file"),
    (["--background", "blur:3"], "blur strength"),
    (["--filter-region", "hat"], "invalid choice"),
    (["--filter", "none+candy"], "cannot be chained"),
    (["--filter", "candy+"], "empty name between '+' signs"),
    (["--on-smile", "sparkles"], "unknown filter"),
])
def test_bad_background_options_are_one_line_before_work(monkeypatch, capsys, tmp_path, args, needle):
    out = tmp_path / "o.mp4"
    code, err = run_cli(monkeypatch, capsys, "--filter", "candy", *args, "--source", "synthetic", "--no-preview",
                        "--output", str(out), "--frames", "3") if "--filter" not in args else run_cli(
        monkeypatch, capsys, *args, "--source", "synthetic", "--no-preview", "--output", str(out), "--frames", "3")
    assert_one_line(code, err, needle)
    assert not out.exists(), "nothing was written"


def test_a_corrupt_background_image_is_one_line(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "wall.jpg"
    bad.write_bytes(b"\xff\xd8\xff garbage")
    assert_one_line(*run_cli(monkeypatch, capsys, "--background", str(bad), "--source", "synthetic", "--no-preview",
                             "--frames", "2"), "not an image")


def test_toml_background_keys(monkeypatch, capsys, tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('background = "blur:0.7"\nfilter_region = "person"\nfilter = "none"\nsource = "synthetic"\n'
                      'preview = false\nframes = 3\n')
    code, err = run_cli(monkeypatch, capsys, "--config", str(config))
    assert code == 0, err


def test_a_video_background_given_to_apply_is_opened_once_and_plays_on(face_photo, data_dir):
    bgr = np.ascontiguousarray(face_photo[..., ::-1])
    chain = realtime.load_chain("none")
    video = str(data_dir / "videos" / "tpsmm__driving.mp4")
    first, second = chain.apply(bgr, background=video), chain.apply(bgr, background=video)
    assert not np.array_equal(first, second), "the second call shows the video's next frame"


def test_every_video_a_source_reads_is_a_video_backdrop_too(tmp_path):
    """One list of video suffixes (realtime.media): an MPEG-TS clip, which --source and batch
    read, was once read as a picture here and refused."""
    from tests.av_clip import write_clip

    clip = write_clip(tmp_path / "wall.ts", [synthetic_photo(48, 64, i) for i in range(6)], (64, 48), 30, {})
    backdrop = parse_background(str(clip))
    assert isinstance(backdrop, VideoBackdrop)
    frame, person = person_scene()
    assert backdrop.compose(frame, person).shape == frame.shape
    backdrop.close()
