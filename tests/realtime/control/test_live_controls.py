"""The loop's side of the control plane: a chain asked for loads in the background while the
loop keeps its current one, favourites on the keys 1-9, the smile trigger's chain, the mirror
rule (the preview mirrored, what the call sees not), the virtual camera opened and closed, and
the output frames handed to a watcher only while one watches."""
from __future__ import annotations

import pytest

from realtime.errors import UserError
from realtime.live.controls import Controls, ControlState
from realtime.live.loop import FrameTap
from tests.realtime.control.helpers import (FakePreview, GatedLoader, H, Recorder, W, close_to, mirrored, picture,
                                            running_loop, swapped, tiny_filters, wait_for)


def test_a_chain_not_loaded_yet_loads_in_the_background_while_the_loop_keeps_its_own(tmp_path):
    files = tiny_filters(tmp_path)
    loader = GatedLoader("cpu", threads=1, frame_hw=(H, W))
    sink = Recorder()
    with running_loop(["none"], sinks=[sink], loader=loader) as loop:
        future = loop.choices.choose(str(files["slow"]))
        wait_for(loader.waiting.is_set, what="the chain loader to start the slow model")
        before = loop.stats.frames_processed
        wait_for(lambda: loop.stats.frames_processed >= before + 10, what="frames processed while the model loads")
        assert loop.controls.state().option == 0 and loop.choices.loading == str(files["slow"])
        assert close_to(sink.latest(), picture()), "the loop kept the chain it had"
        loader.gate.set()
        index = future.result(timeout=20)
        assert loop.controls.state().option == index == 1 and loop.choices.loading is None
        wait_for(lambda: close_to(sink.latest(), swapped(picture())), what="the new chain's frames")
        assert loop.chain_name == "slow"


def test_only_the_last_of_quick_requests_is_used_and_unknown_names_fail_at_once(tmp_path):
    files = tiny_filters(tmp_path)
    loader = GatedLoader("cpu", threads=1, frame_hw=(H, W))
    with running_loop(["none"], loader=loader) as loop:
        first = loop.choices.choose(str(files["slow"]))
        wait_for(loader.waiting.is_set, what="the slow model's load")
        second = loop.choices.choose(str(files["swap"]))
        with pytest.raises(UserError, match="unknown filter 'nosuch'"):
            loop.choices.choose("nosuch")
        loader.gate.set()
        slow, swap = first.result(timeout=20), second.result(timeout=20)
        assert loop.controls.state().option == swap != slow, "the slow chain finished last but was superseded"
        assert {c.spec for c in loop.choices.labels()} >= {"none", str(files["slow"]), str(files["swap"])}


def test_favourites_are_the_keys_1_to_9_and_n_p_go_through_the_loader(tmp_path):
    files = tiny_filters(tmp_path)
    with running_loop(["none", str(files["swap"])], favourites=(str(files["swap"]), "none")) as loop:
        assert loop.controls.handle(ord("1")) == "1"
        wait_for(lambda: loop.controls.state().option == 1, what="favourite 1")
        assert loop.controls.handle(ord("2")) == "2"
        wait_for(lambda: loop.controls.state().option == 0, what="favourite 2")
        assert loop.controls.handle(ord("3")) is None, "no third favourite"
        loop.controls.handle(ord("n"))
        wait_for(lambda: loop.controls.state().option == 1, what="n")
        loop.controls.handle(ord("p"))
        wait_for(lambda: loop.controls.state().option == 0, what="p")


def test_the_region_is_part_of_the_choice(tmp_path):
    files = tiny_filters(tmp_path)
    with running_loop([str(files["swap"])]) as loop:
        index = loop.choices.choose(str(files["swap"]), "person").result(timeout=20)
        assert index == 1 and loop.choices.label(index).region == "person"
        assert loop.choices.chain(index).settings.region == "person"
        assert loop.choices.choose(str(files["swap"]), "all").result(timeout=20) == 0
        with pytest.raises(UserError, match="region must be one of"):
            loop.choices.choose("none", "ceiling")


def test_the_smile_triggers_chain_follows_the_controls_at_the_next_frame(tmp_path):
    files = tiny_filters(tmp_path)
    with running_loop(["none"]) as loop:
        assert loop.controls.state().on_smile == -1 and loop.processor.triggers.on_smile is None
        index = loop.choices.choose(str(files["swap"]), slot="on_smile").result(timeout=20)
        assert loop.controls.state().on_smile == index and loop.controls.state().option == 0
        wait_for(lambda: loop.processor.triggers.on_smile is not None, what="the trigger's chain in the processor")
        assert loop.processor.triggers.on_smile.name == "swap"
        loop.choices.clear_on_smile()
        wait_for(lambda: loop.processor.triggers.on_smile is None, what="no trigger")


def test_a_background_asked_for_by_text_is_added_once():
    with running_loop(["none"]) as loop:
        assert loop.choices.background_labels() == ["none", "blur", "remove"]
        assert loop.choices.background_index("blur") == 1 and loop.choices.background_index("keep") == 0
        index = loop.choices.background_index("#00ff00")
        assert index == 3 and loop.choices.background_index("#00ff00") == 3 and len(loop.processor.backgrounds) == 4
        with pytest.raises(UserError):
            loop.choices.background_index("blur:7")


def test_the_preview_is_a_mirror_and_what_the_call_sees_is_not_unless_asked():
    sink, preview = Recorder(), FakePreview()
    with running_loop(["none"], ControlState(mirror=True), sinks=[sink], preview=preview) as loop:
        wait_for(lambda: sink.count > 3 and len(preview.shown) > 3, what="frames")
        assert close_to(sink.latest(), picture()), "the call sees the camera as it is"
        assert close_to(preview.shown[-1], mirrored(picture())), "the preview is a mirror"
        loop.controls.update(mirror_output=True)
        wait_for(lambda: close_to(sink.latest(), mirrored(picture())), what="the output mirrored too")
        loop.controls.update(mirror=False, mirror_output=False)
        wait_for(lambda: close_to(preview.shown[-1], picture()) and close_to(sink.latest(), picture()), what="no mirror")
        loop.controls.handle(ord("m"))
        wait_for(lambda: close_to(preview.shown[-1], mirrored(picture())), what="the m key mirrors the preview")
        assert close_to(sink.latest(), picture())


def test_the_virtual_camera_opens_and_closes_as_asked_and_a_failure_leaves_the_loop_running():
    opened: list[Recorder] = []
    fail = [False]

    def open_cam() -> Recorder:
        if fail[0]:
            raise UserError("no v4l2loopback virtual camera found")
        opened.append(Recorder())
        return opened[-1]
    with running_loop(["none"], open_virtual_cam=open_cam) as loop:
        assert loop.controls.state().virtual_cam is False and not opened
        loop.controls.update(virtual_cam=True)
        wait_for(lambda: opened and opened[0].count > 3, what="frames in the virtual camera")
        loop.controls.update(virtual_cam=False)
        wait_for(lambda: opened[0].closed, what="the virtual camera closed")
        count = opened[0].count
        fail[0] = True
        loop.controls.update(virtual_cam=True)
        wait_for(lambda: loop.virtual_cam_error, what="the failure")
        assert loop.controls.state().virtual_cam is False and "v4l2loopback" in loop.virtual_cam_error
        frames = loop.stats.frames_output
        wait_for(lambda: loop.stats.frames_output > frames + 5, what="the loop going on")
        assert opened[0].count == count and len(opened) == 1
        fail[0] = False
        loop.controls.update(virtual_cam=True)
        wait_for(lambda: len(opened) == 2 and opened[1].count > 2, what="the camera opened again")
    assert opened[1].closed, "the run's end closes it"


def test_the_tap_copies_frames_only_while_watched_and_at_most_its_rate():
    tap = FrameTap(fps=5.0, watch_s=60.0)
    image = picture()
    tap.offer(image)
    assert tap.wait(0, timeout=0.0) is None, "nobody watched: nothing copied"
    for _ in range(100):  # a burst at once: one copy, the rest within 1/5 s are skipped
        tap.offer(image, mirror=True)
    seq, frame = tap.wait(0, timeout=1.0)
    assert seq == 1 and close_to(frame, mirrored(image)) and frame is not image
    tap.close()
    assert tap.wait(seq, timeout=5.0) is None


def test_controls_hand_out_snapshots_and_count_changes():
    controls = Controls(ControlState(), options=3)
    before, version = controls.state(), controls.version
    assert controls.update(strength=0.3, mirror_output=True).strength == 0.3
    assert before.strength == 1.0 and controls.version == version + 1
    controls.update(strength=0.3)
    assert controls.version == version + 1, "no change, no new version"
    controls.favourites = ["cartoon"]
    assert controls.favourites == ("cartoon",) and controls.version == version + 2
    assert controls.handle(ord("1")) is None, "no loader attached: the digit keys do nothing"
