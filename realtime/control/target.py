"""The protocol's requests carried out on a running :class:`~realtime.live.loop.LiveLoop`.

Data flows one way: the loop owns the state. A change is posted to its thread-safe
:class:`~realtime.live.controls.Controls` (the loop reads the new snapshot at its next frame)
or, for a chain not built yet, handed to its :class:`~realtime.live.controls.Choices`, which
builds it on the chain loader's thread and posts it when ready. Reads are snapshots (the
controls, the stats' counters, the chains' labels); nothing here touches a frame being
processed. Every refusal is a :class:`~realtime.control.protocol.RequestError` (one line).
"""
from __future__ import annotations

import base64
import logging
import threading
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Callable

from realtime.control import catalogue
from realtime.control.protocol import JSON, Answer, RequestError
from realtime.control.settings import MAX_FAVOURITES, Look, Saved, SettingsFile, check_preset_name, remember
from realtime.control.thumbnails import Thumbnails
from realtime.errors import UserError, first_line
from realtime.live.controls import FILTER, ON_SMILE, fps_text
from realtime.live.loop import LiveLoop

log = logging.getLogger(__name__)
WAIT_S = 120.0  # the longest a request with wait=true waits for a chain (a TensorRT engine build)


class LiveTarget:
    """``loop``: the running loop; ``settings``: the settings file (presets, favourites,
    recents are written through it at once); ``camera``: the source and size to remember
    (a camera index; None for a file); ``thumbnails``: the gallery's renderer."""

    def __init__(self, loop: LiveLoop, settings: SettingsFile, saved: Saved, thumbnails: Thumbnails | None = None,
                 camera: tuple[str, tuple[int, int] | None] | None = None) -> None:
        self.loop, self.controls, self.choices = loop, loop.controls, loop.choices
        self.settings, self.thumbnails, self.camera = settings, thumbnails, camera
        self._lock = threading.Lock()
        self._saved = saved
        self.revision = 0  # counts changes to the saved settings (presets, favourites, recents)
        self.controls.favourites = saved.favourites if not loop.cfg.favourites else loop.cfg.favourites

    # ------------------------------------------------------------------ reading
    def state(self) -> JSON:
        s = self.controls.state()
        label = self.choices.label(s.option)
        saved = self.saved
        return {
            "filter": label.spec, "region": label.region, "latent": s.latent, "latent_names": list(catalogue.latent_names(label.spec)),
            "strength": s.strength, "enabled": s.enabled,
            "background": self.choices.background_label(s.background), "backgrounds": self.choices.background_labels(),
            "on_smile": self.choices.label(s.on_smile).spec if s.on_smile >= 0 else None,
            "mirror": s.mirror, "mirror_output": s.mirror_output,
            "virtual_cam": s.virtual_cam, "virtual_cam_error": self.loop.virtual_cam_error or None,
            "camera": self.camera_state(),
            "loading": self.choices.loading, "load_failed": dict(zip(("filter", "error"), self.choices.failed)) if self.choices.failed else None,
            "favourites": list(self.controls.favourites), "recents": list(saved.recents), "presets": sorted(saved.presets),
        }

    def camera_state(self) -> str | None:
        """on, released (--ondemand: no app reads the virtual camera), lost (reconnecting); None
        when the source is not a camera."""
        source = self.loop.source
        if not source.live:
            return None
        return "released" if getattr(source, "paused", False) else "lost" if getattr(source, "lost", False) else "on"

    def stats(self) -> JSON:
        st = self.loop.stats
        fps, new = st.live_fps(), st.new_fps()
        return {"fps": round(fps, 2), "fps_new": round(new, 2), "fps_text": fps_text(fps, new), "latency_ms": round(st.live_latency(), 1),
                "provider": st.provider, "chain": self.loop.chain_name, "frames_output": st.frames_output,
                "frames_captured": st.frames_captured, "frames_processed": st.frames_processed,
                "frames_dropped": self.loop.captured.dropped, "behind": self.loop.keeping_up.behind}

    def filters(self) -> JSON:
        return {"filters": [f.as_json() for f in catalogue.filters()]}

    @property
    def saved(self) -> Saved:
        with self._lock:
            return self._saved

    def look(self, camera: bool = False) -> Look:
        """The live settings as a preset (or, with the camera, as the last run) keeps them."""
        s = self.controls.state()
        label = self.choices.label(s.option)
        look = Look(filter=label.spec, strength=s.strength, latent=s.latent, background=self.choices.background_label(s.background),
                    filter_region=label.region, on_smile=self.choices.label(s.on_smile).spec if s.on_smile >= 0 else "none",
                    mirror=s.mirror, mirror_output=s.mirror_output)
        if camera and self.camera is not None:
            look = replace(look, source=self.camera[0], size=self.camera[1])
        return look

    # ------------------------------------------------------------------ chains
    def _spec(self, spec: str) -> str:
        """A name the client may use: known filters, or a chain the run holds already (one
        given as a file on the command line)."""
        try:
            return catalogue.check_spec(spec, allowed={c.spec for c in self.choices.labels()})
        except UserError as exc:
            raise RequestError(first_line(exc)) from None

    def _chosen(self, choose: Callable[[], "Future[int]"], wait: bool, remember: bool = True) -> Answer:
        try:
            future = choose()
        except UserError as exc:
            raise RequestError(first_line(exc)) from None
        if remember:  # a chain picked is a recent one, however briefly it stays
            future.add_done_callback(self._picked)
        if not wait:
            return self.state()
        answer: Future[JSON] = Future()

        def finished(done: "Future[int]") -> None:
            exc = RuntimeError("the run is ending") if done.cancelled() else done.exception()
            if exc is not None:
                answer.set_exception(RequestError(f"could not load the filter: {first_line(exc)}", status=422))
            else:
                answer.set_result(self.state())
        future.add_done_callback(finished)
        return answer

    def set_filter(self, spec: str, region: str | None, wait: bool) -> Answer:
        spec = self._spec(spec)
        return self._chosen(lambda: self.choices.choose(spec, region, FILTER), wait)

    def step(self, delta: int, wait: bool) -> Answer:
        return self._chosen(lambda: self.choices.step(delta), wait)

    def set_on_smile(self, spec: str | None, wait: bool) -> Answer:
        if spec is None:
            self.choices.clear_on_smile()
            return self.state()
        spec = self._spec(spec)
        return self._chosen(lambda: self.choices.choose(spec, None, ON_SMILE), wait, remember=False)

    def favourite(self, n: int, wait: bool) -> Answer:
        return self._chosen(lambda: self.choices.favourite(n), wait)

    # ------------------------------------------------------------------ values
    def set_values(self, **values: Any) -> JSON:
        self.controls.update(**values)
        return self.state()

    def set_latent(self, latent: int) -> JSON:
        spec = self.choices.label(self.controls.state().option).spec
        codes = len(catalogue.latent_names(spec))
        if latent >= max(codes, 1):
            raise RequestError(f"latent {latent} is out of range: {spec} has "
                               + (f"{codes} variants (0..{codes - 1})" if codes else "no variants (use 0)"))
        return self.set_values(latent=latent)

    def set_background(self, text: str) -> JSON:
        """Keywords and colours; a file only when the run was started with it (a client does
        not make the camera open files)."""
        from realtime.compositing.background import BACKDROPS, parse_colour

        label = text.strip()
        keyword = label.lower().partition(":")[0]
        known = label in self.choices.background_labels() or label.lower() in ("none", "off", "keep")
        if not known and keyword not in BACKDROPS and parse_colour(label) is None:
            raise RequestError(f"background {label[:60]!r}: use none, blur[:0..1], remove[:COLOUR] or a colour "
                               f"(#RRGGBB or a name); a file only as given at the start with --background")
        try:
            index = self.choices.background_index(label)
        except UserError as exc:
            raise RequestError(first_line(exc)) from None
        return self.set_values(background=index)

    def set_virtual_cam(self, on: bool) -> JSON:
        if on and self.loop.virtual_cam is None and self.loop.open_virtual_cam is None:
            raise RequestError("this run cannot open a virtual camera", status=409)
        return self.set_values(virtual_cam=on)

    # ------------------------------------------------------------------ favourites, presets, recents
    def _update(self, change: Callable[[Saved], Saved]) -> Saved:
        with self._lock:
            self._saved = self.settings.update(change)
            self.revision += 1
            return self._saved

    def set_favourites(self, specs: list[str]) -> JSON:
        checked: list[str] = []
        for spec in specs:
            normal = self._spec(spec)
            if normal not in checked:
                checked.append(normal)
        if len(checked) > MAX_FAVOURITES:
            raise RequestError(f"at most {MAX_FAVOURITES} favourites (the keys 1-9), got {len(checked)}")
        self.controls.favourites = tuple(checked)
        self._update(lambda saved: replace(saved, favourites=tuple(checked)))
        return self.state()

    def add_favourite(self, spec: str) -> JSON:
        spec = self._spec(spec)
        favourites = list(self.controls.favourites)
        if spec in favourites:
            return self.state()
        if len(favourites) >= MAX_FAVOURITES:
            raise RequestError(f"already {MAX_FAVOURITES} favourites (the keys 1-9): remove one first", status=409)
        return self.set_favourites([*favourites, spec])

    def remove_favourite(self, spec: str) -> JSON:
        spec = self._spec(spec)
        favourites = list(self.controls.favourites)
        if spec not in favourites:
            raise RequestError(f"{spec} is not a favourite", status=404)
        return self.set_favourites([f for f in favourites if f != spec])

    def save_preset(self, name: str) -> JSON:
        try:
            check_preset_name(name)
        except UserError as exc:
            raise RequestError(first_line(exc)) from None
        look = self.look()
        self._update(lambda saved: replace(saved, presets={**saved.presets, name: look}))
        log.info("preset %s saved", name)
        return self.state()

    def delete_preset(self, name: str) -> JSON:
        if name not in self.saved.presets:
            raise RequestError(f"no preset {name[:40]!r}; presets: {', '.join(sorted(self.saved.presets)) or 'none'}", status=404)
        self._update(lambda saved: replace(saved, presets={k: v for k, v in saved.presets.items() if k != name}))
        return self.state()

    def apply_preset(self, name: str, wait: bool) -> Answer:
        presets = self.settings.load(warn=False).presets or self.saved.presets  # one saved by another instance too
        look = presets.get(name)
        if look is None:
            raise RequestError(f"no preset {name[:40]!r}; presets: {', '.join(sorted(presets)) or 'none'}", status=404)
        values: dict[str, Any] = {k: v for k, v in (("strength", look.strength), ("mirror", look.mirror),
                                                      ("mirror_output", look.mirror_output)) if v is not None}
        if look.latent is not None:
            values["latent"] = look.latent
        if look.background is not None:
            self.set_background(look.background)
        if look.on_smile is not None:
            self.set_on_smile(None if look.on_smile == "none" else look.on_smile, False)
        if values:
            self.controls.update(**values)
        if look.filter is not None or look.filter_region is not None:
            spec = look.filter or self.choices.label(self.controls.state().option).spec
            return self.set_filter(spec, look.filter_region, wait)
        return self.state()

    def _picked(self, done: "Future[int]") -> None:
        if not done.cancelled() and done.exception() is None:
            try:
                self.remember_filter(self.choices.label(done.result()).spec)
            except Exception as exc:  # a file that cannot be written: the run goes on
                log.warning("could not save the recents: %s", first_line(exc))

    def remember_filter(self, spec: str) -> None:
        """``spec`` first in the recents (the control plane calls it when the filter changed)."""
        if self.saved.recents[:1] != (spec,):
            self._update(lambda saved: remember(saved, spec))

    def save_last(self) -> None:
        """The live settings as the next run's defaults, and this run's filter in the recents
        (a run from a file keeps the camera saved before)."""
        look = self.look(camera=True)

        def change(saved: Saved) -> Saved:
            last = look if self.camera is not None else replace(look, source=saved.last.source, size=saved.last.size)
            return remember(replace(saved, last=last), look.filter or "none")
        self._update(change)

    # ------------------------------------------------------------------ thumbnails
    def refresh_thumbnails(self) -> JSON:
        if self.thumbnails is None:
            raise RequestError("thumbnails are off in this run", status=409)
        frame = self.loop.latest_raw  # a reference to the newest captured frame; only read
        if frame is None:
            raise RequestError("no camera frame yet; try again in a moment", status=409)
        generation, width, height = self.thumbnails.refresh(frame.image, mirror=self.controls.state().mirror)
        return {"generation": generation, "width": width, "height": height}

    def thumbnail(self, spec: str, latent: int) -> Answer:
        if self.thumbnails is None:
            raise RequestError("thumbnails are off in this run", status=409)
        spec = self._spec(spec)
        if not self.thumbnails.ready:
            self.refresh_thumbnails()
        try:
            future = self.thumbnails.render(spec, latent)
        except UserError as exc:
            raise RequestError(first_line(exc), status=409) from None
        answer: Future[JSON] = Future()

        def finished(done: "Future[bytes]") -> None:
            exc = RuntimeError("the run is ending") if done.cancelled() else done.exception()
            if exc is not None:
                answer.set_exception(RequestError(f"thumbnail of {spec}: {first_line(exc)}", status=422))
            else:
                answer.set_result({"filter": spec, "latent": latent, "generation": self.thumbnails.generation,  # type: ignore[union-attr]
                                   "image": "data:image/jpeg;base64," + base64.b64encode(done.result()).decode("ascii")})
        future.add_done_callback(finished)
        return answer
