"""``realtime ctl``: one command to the running ``realtime``, for the OS's own hotkeys (a
desktop shortcut runs ``realtime ctl next`` while the call app has the focus).

It finds the running instance by itself (its port and token in the user-only file written at
start: :mod:`realtime.control.instances`; ``--port`` picks one of several), sends one
protocol request over HTTP and prints one line. It imports nothing heavy (no OpenCV, no ONNX
Runtime): it answers in a blink.
"""
from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any, Callable, NoReturn

from realtime.control.instances import Instance, find
from realtime.errors import UserError

TIMEOUT_S = 10.0
WAIT_TIMEOUT_S = 130.0  # a chain that loads (wait=true): the server gives up at 120 s

COMMANDS = """commands:
  status                   the filter, strength, background, fps, latency and provider
  next | prev              the next / previous filter (as n / p in the preview)
  set CHAIN                e.g. set cartoon+glasses (answers once it is in use)
  strength X               0..1
  variant N                the filter's latent variant
  fav N                    favourite N (1-9), as the key N in the preview
  fav-add CHAIN | fav-remove CHAIN
  background MODE          none, blur[:0..1], remove[:COLOUR] or a colour
  region all|person|background
  on | off                 the filter on, or off (the camera passes through)
  mirror on|off            the preview as a mirror
  mirror-output on|off     what the call sees mirrored too
  vcam on|off              the virtual camera
  on-smile CHAIN|none      the chain while you smile
  save-preset NAME | preset NAME | delete-preset NAME
  url                      the studio page's address, with its token
  request NAME [JSON]      any request of the protocol (docs/control.md); the answer as JSON"""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="realtime ctl", description="Control the running realtime (its control API on 127.0.0.1).",
               epilog=COMMANDS, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, help="the control port of the instance to talk to (when several run)")
    p.add_argument("command", help="see below")
    p.add_argument("args", nargs="*", help="the command's value")
    return p


def call(instance: Instance, name: str, data: dict[str, Any] | None = None, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """One request; its answer, or one :class:`UserError` line."""
    body = json.dumps(data or {}).encode()
    req = urllib.request.Request(f"{instance.base}/api/v1/request/{name}", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "X-Realtime-Token": instance.token})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error") or exc.reason
        except ValueError:
            message = exc.reason
        raise UserError(str(message)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"the realtime on control port {instance.port} does not answer ({reason})") from None


def on_off(value: str) -> bool:
    low = value.lower()
    if low in ("on", "true", "yes", "1"):
        return True
    if low in ("off", "false", "no", "0"):
        return False
    raise UserError(f"expected on or off, got {value!r}")


def number(value: str, kind: Callable[[str], Any] = float) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise UserError(f"expected {'a whole number' if kind is int else 'a number'}, got {value!r}") from None


def summary(state: dict[str, Any]) -> str:
    parts = [state["filter"] + ("" if state["enabled"] else " [off]"), f"strength {state['strength']:.2f}"]
    if state.get("latent_names"):
        names = state["latent_names"]
        parts.append(f"variant {state['latent']} ({names[state['latent'] % len(names)]})")
    parts.append(f"background {state['background']}")
    if state["region"] != "all":
        parts.append(f"region {state['region']}")
    if state.get("on_smile"):
        parts.append(f"on smile {state['on_smile']}")
    parts.append(f"mirror {'on' if state['mirror'] else 'off'}" + (" (output too)" if state["mirror_output"] else ""))
    parts.append(f"virtual camera {'on' if state['virtual_cam'] else 'off'}")
    if state.get("camera") in ("released", "lost"):
        parts.append("camera released (no app reads the virtual camera)" if state["camera"] == "released"
                     else "camera lost (reconnecting)")
    if state.get("loading"):
        parts.append(f"loading {state['loading']}")
    return "  ".join(parts)


def request_for(command: str, args: list[str]) -> tuple[str, dict[str, Any]]:
    """The protocol request a command means."""
    def one() -> str:
        if len(args) != 1:
            raise UserError(f"{command} takes one value, got {len(args)}")
        return args[0]

    simple: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
        "next": lambda: ("NextFilter", {"wait": True}),
        "prev": lambda: ("PreviousFilter", {"wait": True}),
        "set": lambda: ("SetFilter", {"filter": one(), "wait": True}),
        "strength": lambda: ("SetStrength", {"strength": number(one())}),
        "variant": lambda: ("SetVariant", {"latent": number(one(), int)}),
        "fav": lambda: ("Favourite", {"n": number(one(), int), "wait": True}),
        "fav-add": lambda: ("AddFavourite", {"filter": one()}),
        "fav-remove": lambda: ("RemoveFavourite", {"filter": one()}),
        "background": lambda: ("SetBackground", {"background": one()}),
        "region": lambda: ("SetRegion", {"region": one(), "wait": True}),
        "on": lambda: ("SetEnabled", {"on": True}),
        "off": lambda: ("SetEnabled", {"on": False}),
        "mirror": lambda: ("SetMirror", {"preview": on_off(one())}),
        "mirror-output": lambda: ("SetMirror", {"output": on_off(one())}),
        "vcam": lambda: ("SetVirtualCamera", {"on": on_off(one())}),
        "on-smile": lambda: ("SetOnSmile", {"filter": one(), "wait": True}),
        "save-preset": lambda: ("SavePreset", {"name": " ".join(args) or one()}),
        "preset": lambda: ("ApplyPreset", {"name": " ".join(args) or one(), "wait": True}),
        "delete-preset": lambda: ("DeletePreset", {"name": " ".join(args) or one()}),
    }
    if command not in simple:
        raise UserError(f"unknown command {command!r}; commands: {', '.join(['status', *simple, 'url', 'request'])}")
    return simple[command]()


def ctl_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    instance = find(args.port)
    if args.command == "url":
        print(instance.studio)
        return 0
    if args.command == "status":
        state, stats = call(instance, "GetState"), call(instance, "GetStats")
        print(summary(state))
        print(f"{stats.get('fps_text') or format(stats['fps'], '.1f') + ' fps'}  latency {stats['latency_ms']:.0f} ms  provider {stats['provider']}  "
              f"control port {instance.port}")
        if stats.get("behind"):  # an older run's answer has no such field
            print(stats["behind"])
        return 0
    if args.command == "request":
        if not args.args:
            raise UserError("request NAME [JSON]: name a request, e.g. realtime ctl request GetVersion")
        try:
            data = json.loads(args.args[1]) if len(args.args) > 1 else {}
        except ValueError as exc:
            raise UserError(f"the fields are not JSON ({exc})") from None
        print(json.dumps(call(instance, args.args[0], data, WAIT_TIMEOUT_S), indent=1))
        return 0
    name, data = request_for(args.command, args.args)
    answer = call(instance, name, data, WAIT_TIMEOUT_S if data.get("wait") else TIMEOUT_S)
    if name == "SavePreset":
        print(f"saved preset {data['name']!r}: {summary(answer)}")
    else:
        print(summary(answer))
    return 0


if __name__ == "__main__":
    from realtime.errors import run_cli

    sys.exit(run_cli(lambda: ctl_main(sys.argv[1:])))
