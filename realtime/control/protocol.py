"""The control plane's vocabulary, version :data:`PROTOCOL_VERSION`: named requests with
checked fields, and named events. It is the contract between a running ``realtime`` and its
clients (the studio page, ``realtime ctl``, your own scripts), as obs-websocket's is for OBS;
the HTTP server (:mod:`realtime.control.server`) only carries it.

A request is a name and a JSON object of fields. :func:`dispatch` checks the fields against
the request's :class:`Field` list (unknown, missing, of the wrong type or out of range: a
:class:`RequestError`, 400, in one line) and calls its handler on a :class:`Target` (the
running loop: :class:`realtime.control.target.LiveTarget`). A handler returns a JSON object,
or a future of one when it waits (a chain being loaded, with ``wait``).

Adding a request: a function decorated with :func:`request` naming its fields; a new field of
an existing request must be optional, a removed or changed one bumps the version.
"""
from __future__ import annotations

import math
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union

PROTOCOL_VERSION = 1
JSON = dict[str, Any]
Answer = Union[JSON, "Future[JSON]"]

# event name → what its data holds (the server sends them as Server-Sent Events)
EVENTS: dict[str, str] = {
    "Hello": "first on every stream: protocol_version, state and stats",
    "StateChanged": "the whole state (as GetState) after any change: a request, a key in the preview, a chain loaded",
    "StatsUpdated": "fps, fps_new, fps_text, latency_ms, provider, counts and behind (as GetStats), once a second",
    "FilterLoading": "filter: a chain being loaded in the background (the loop keeps the current one meanwhile)",
    "FilterLoadFailed": "filter, error: a chain that could not be loaded (the loop kept the current one)",
    "VirtualCameraFailed": "error: the virtual camera could not be opened (it stays off)",
    "Stopping": "the run is ending; the stream closes after this",
}


class RequestError(Exception):
    """A request the target refuses: one line for the client, with an HTTP status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Target(Protocol):
    """What the handlers act on: the running loop (:class:`realtime.control.target.LiveTarget`)."""

    def state(self) -> JSON: ...
    def stats(self) -> JSON: ...
    def filters(self) -> JSON: ...
    def set_filter(self, spec: str, region: str | None, wait: bool) -> Answer: ...
    def step(self, delta: int, wait: bool) -> Answer: ...
    def set_on_smile(self, spec: str | None, wait: bool) -> Answer: ...
    def favourite(self, n: int, wait: bool) -> Answer: ...
    def set_values(self, **values: Any) -> JSON: ...
    def set_background(self, text: str) -> JSON: ...
    def set_latent(self, latent: int) -> JSON: ...
    def set_virtual_cam(self, on: bool) -> JSON: ...
    def set_favourites(self, specs: list[str]) -> JSON: ...
    def add_favourite(self, spec: str) -> JSON: ...
    def remove_favourite(self, spec: str) -> JSON: ...
    def save_preset(self, name: str) -> JSON: ...
    def apply_preset(self, name: str, wait: bool) -> Answer: ...
    def delete_preset(self, name: str) -> JSON: ...
    def refresh_thumbnails(self) -> JSON: ...
    def thumbnail(self, spec: str, latent: int) -> Answer: ...


@dataclass(frozen=True)
class Field:
    """One field of a request: its JSON type, whether it may be left out (or null), its range."""

    kind: str  # number | integer | boolean | text | texts (a list of text)
    optional: bool = False
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    nullable: bool = False  # null is a value (e.g. no smile trigger)
    label: str = ""  # what the messages call it where the field's name says little ("n": "favourite")

    def check(self, name: str, value: object) -> object:
        name = self.label or name
        if value is None and self.nullable:
            return None
        kind = self.kind
        if kind == "boolean":
            if not isinstance(value, bool):
                raise RequestError(f"{name} must be true or false, got {_shown(value)}")
        elif kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise RequestError(f"{name} must be {'a whole number' if kind == 'integer' else 'a number'}, got {_shown(value)}")
            if kind == "integer" and not float(value).is_integer():
                raise RequestError(f"{name} must be a whole number, got {_shown(value)}")
            value = int(value) if kind == "integer" else float(value)
            if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
                raise RequestError(f"{name} {value:g} is out of range {self.low:g}..{self.high:g}")
        elif kind == "text":
            if not isinstance(value, str) or not value.strip() or len(value) > 400:
                raise RequestError(f"{name} must be text (1-400 characters), got {_shown(value)}")
            if self.choices and value not in self.choices:
                raise RequestError(f"{name} must be one of {', '.join(self.choices)}, got {_shown(value)}")
        elif kind == "texts":
            if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value) or len(value) > (self.high or 64):
                raise RequestError(f"{name} must be a list of at most {self.high or 64:g} names, got {_shown(value)}")
        return value


def _shown(value: object) -> str:
    text = repr(value) if not isinstance(value, str) else repr(value[:40])
    return text[:60]


Handler = Callable[[Target, JSON], Answer]


@dataclass(frozen=True)
class RequestType:
    name: str
    fields: dict[str, Field]
    handler: Handler
    doc: str


REQUESTS: dict[str, RequestType] = {}


def request(name: str, /, **fields: Field) -> Callable[[Handler], Handler]:
    def add(handler: Handler) -> Handler:
        REQUESTS[name] = RequestType(name, fields, handler, (handler.__doc__ or "").strip())
        return handler
    return add


def dispatch(target: Target, name: str, data: object) -> Answer:
    """Check ``data`` against request ``name`` and run it (404 for an unknown request)."""
    kind = REQUESTS.get(name)
    if kind is None:
        raise RequestError(f"unknown request {name[:60]!r}; see GetVersion for the list", status=404)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RequestError(f"{name} takes a JSON object of fields, got {_shown(data)}")
    unknown = [k for k in data if k not in kind.fields]
    if unknown:
        known = ", ".join(kind.fields) or "none"
        raise RequestError(f"{name} has no field {unknown[0][:40]!r} (its fields: {known})")
    checked: JSON = {}
    for field_name, spec in kind.fields.items():
        if field_name not in data or (data[field_name] is None and not spec.nullable):
            if not spec.optional:
                raise RequestError(f"{name} needs the field {field_name!r}")
            continue
        checked[field_name] = spec.check(field_name, data[field_name])
    return kind.handler(target, checked)


WAIT = Field("boolean", optional=True)  # answer once the chain is in use (or failed), not at once
REGIONS = ("all", "person", "background")


@request("GetVersion")
def _get_version(target: Target, data: JSON) -> JSON:
    """The protocol version, every request with its fields, every event."""
    return {"protocol_version": PROTOCOL_VERSION,
            "requests": {name: {"fields": {f: {"type": s.kind, "optional": s.optional} for f, s in r.fields.items()}, "doc": r.doc}
                         for name, r in REQUESTS.items()},
            "events": EVENTS}


@request("GetState")
def _get_state(target: Target, data: JSON) -> JSON:
    """The live settings, favourites, recents and presets."""
    return target.state()


@request("GetStats")
def _get_stats(target: Target, data: JSON) -> JSON:
    """fps (frames sent, re-sends included), fps_new (new results), fps_text (the two as the
    preview's status line shows them: '15.2 fps (30 sent)'), latency_ms, provider, frame counts
    and behind: what the chain keeps of the camera's frames and what to try, while it keeps
    under 80 % of them (else "")."""
    return target.stats()


@request("GetFilters")
def _get_filters(target: Target, data: JSON) -> JSON:
    """Every filter that can be named, with its kind and latent variants."""
    return target.filters()


@request("SetFilter", filter=Field("text"), region=Field("text", optional=True, choices=REGIONS), wait=WAIT)
def _set_filter(target: Target, data: JSON) -> Answer:
    """The chain (e.g. cartoon+glasses), optionally its region; loaded in the background if needed."""
    return target.set_filter(data["filter"], data.get("region"), data.get("wait", False))


@request("NextFilter", wait=WAIT)
def _next_filter(target: Target, data: JSON) -> Answer:
    """The next chain, as the n key."""
    return target.step(1, data.get("wait", False))


@request("PreviousFilter", wait=WAIT)
def _previous_filter(target: Target, data: JSON) -> Answer:
    """The previous chain, as the p key."""
    return target.step(-1, data.get("wait", False))


@request("SetRegion", region=Field("text", choices=REGIONS), wait=WAIT)
def _set_region(target: Target, data: JSON) -> Answer:
    """Where a whole-frame filter applies: all, person or background."""
    return target.set_filter(target.state()["filter"], data["region"], data.get("wait", False))


@request("SetStrength", strength=Field("number", low=0.0, high=1.0))
def _set_strength(target: Target, data: JSON) -> JSON:
    """The blend of filter and camera, 0..1."""
    return target.set_values(strength=data["strength"])


@request("SetVariant", latent=Field("integer", low=0, high=1024))
def _set_variant(target: Target, data: JSON) -> JSON:
    """The latent variant of the chain (0.. its count - 1)."""
    return target.set_latent(data["latent"])


@request("SetBackground", background=Field("text"))
def _set_background(target: Target, data: JSON) -> JSON:
    """none, blur[:S], remove[:COLOUR] or a colour (#RRGGBB, a name); files only as given at the start."""
    return target.set_background(data["background"])


@request("SetOnSmile", filter=Field("text", nullable=True), wait=WAIT)
def _set_on_smile(target: Target, data: JSON) -> Answer:
    """The chain that takes over while the person smiles; null or none: no trigger."""
    spec = data.get("filter")
    return target.set_on_smile(None if spec in (None, "none") else spec, data.get("wait", False))


@request("SetMirror", preview=Field("boolean", optional=True), output=Field("boolean", optional=True))
def _set_mirror(target: Target, data: JSON) -> JSON:
    """preview: the preview is a mirror image; output: what the call sees is flipped too."""
    changes = {k: v for k, v in (("mirror", data.get("preview")), ("mirror_output", data.get("output"))) if v is not None}
    if not changes:
        raise RequestError("SetMirror needs preview or output (true or false)")
    return target.set_values(**changes)


@request("SetVirtualCamera", on=Field("boolean"))
def _set_virtual_camera(target: Target, data: JSON) -> JSON:
    """Open (on) or close (off) the virtual camera; the preview goes on either way."""
    return target.set_virtual_cam(data["on"])


@request("SetEnabled", on=Field("boolean"))
def _set_enabled(target: Target, data: JSON) -> JSON:
    """off: the camera passes through unfiltered (the f key)."""
    return target.set_values(enabled=data["on"])


@request("Favourite", n=Field("integer", low=1, high=9, label="favourite"), wait=WAIT)
def _favourite(target: Target, data: JSON) -> Answer:
    """Favourite n (1-9), as the key n in the preview."""
    return target.favourite(data["n"], data.get("wait", False))


@request("SetFavourites", favourites=Field("texts", high=9))
def _set_favourites(target: Target, data: JSON) -> JSON:
    """All favourites at once, in key order."""
    return target.set_favourites(data["favourites"])


@request("AddFavourite", filter=Field("text"))
def _add_favourite(target: Target, data: JSON) -> JSON:
    """A chain added at the end of the favourites (at most 9)."""
    return target.add_favourite(data["filter"])


@request("RemoveFavourite", filter=Field("text"))
def _remove_favourite(target: Target, data: JSON) -> JSON:
    """A chain taken out of the favourites."""
    return target.remove_favourite(data["filter"])


@request("SavePreset", name=Field("text"))
def _save_preset(target: Target, data: JSON) -> JSON:
    """The live settings saved under a name (realtime --preset NAME starts with them)."""
    return target.save_preset(data["name"])


@request("ApplyPreset", name=Field("text"), wait=WAIT)
def _apply_preset(target: Target, data: JSON) -> Answer:
    """A saved preset's settings, live."""
    return target.apply_preset(data["name"], data.get("wait", False))


@request("DeletePreset", name=Field("text"))
def _delete_preset(target: Target, data: JSON) -> JSON:
    """A saved preset removed."""
    return target.delete_preset(data["name"])


@request("RefreshThumbnails")
def _refresh_thumbnails(target: Target, data: JSON) -> JSON:
    """Take the current camera frame for the gallery's thumbnails (GetThumbnail renders them)."""
    return target.refresh_thumbnails()


@request("GetThumbnail", filter=Field("text"), latent=Field("integer", optional=True, low=0, high=1024))
def _get_thumbnail(target: Target, data: JSON) -> Answer:
    """One chain applied to the refreshed frame, off the loop: image is a JPEG data URL."""
    return target.thumbnail(data["filter"], data.get("latent", 0))
