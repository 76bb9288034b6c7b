"""``jambonz-webhooks simulate``: play a call against a served app, from a script or the terminal."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..security import ENV_PASSWORD, ENV_SECRET, ENV_USERNAME, env_secrets
from .console import EXIT_OK, EXIT_PROBLEMS, PROG, CliError, Subcommands, env_values, note

if TYPE_CHECKING:
    from ..testing import SimulatedCall

__all__ = ["Step", "add_parser", "command_simulate", "parse_step"]

_OUTCOMES = ("answered", "busy", "no-answer", "failed")
_KEYS = frozenset("0123456789*#ABCDabcd")
_STEP_HELP = (
    "press DIGITS | say TEXT | silence | dial answered|busy|no-answer|failed | "
    "hook NAME [KEY=VALUE ...] | result [KEY=VALUE ...] | hangup | expect TEXT | expect-end"
)
# verb_hook's own parameters: a field named so could not reach the payload.
_HOOK_RESERVED = frozenset({"name", "message"})
# A field's KEY= at the start or after a space; its value runs to the next one.
_FIELD = re.compile(r"(?:^|\s+)([A-Za-z_][\w.-]*)=")


@dataclass(frozen=True)
class Step:
    """One line of a simulation script: what the caller (or the dialed party) does, or an expectation."""

    action: Literal["press", "say", "silence", "dial", "hook", "result", "hangup", "expect", "expect-end"]
    argument: str = ""
    line: int = 0
    fields: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    """A ``hook`` or ``result`` step's payload fields, their values parsed as JSON when they parse."""


def parse_step(text: str, line: int = 0, waiting_for: str | None = None) -> Step | None:
    """Read one script line (None for a blank line or a comment).

    ``press 1``, ``say I want sales`` (or ``speak``), ``silence`` (or ``timeout``),
    ``dial busy`` (answered, busy, no-answer, failed), ``hook waitHook queue_position=2`` (jambonz
    sends the hook of that name of the verb the call waits in, e.g. an ``enqueue``),
    ``result queue_result=bridged`` (that verb ends: its actionHook gets the fields), ``hangup``,
    ``expect TEXT`` (the caller heard TEXT since the last step, ignoring case), ``expect-end``
    (the call is over). A field's value runs to the next ``KEY=`` and is read as JSON when it
    is JSON (``2``, ``true``, ``{"a": 1}``, ``"007"``), else as a string (``note=two words``). Typed at
    the prompt, keys alone are pressed, other words said, an empty line is silence and a dial's
    outcome may be given alone (``waiting_for`` says what the call waits on).

    Raises:
        CliError: the line is none of these.

    """
    stripped = text.strip()
    if stripped.startswith("#"):
        return None
    word, _, rest = stripped.partition(" ")
    keyword, rest = word.lower(), rest.strip()
    where = f"line {line}: " if line else ""
    if keyword == "press":
        if not rest or not set(rest) <= _KEYS:
            raise CliError(f"{where}press takes keys (0-9, *, #, A-D), not {rest!r}")
        return Step("press", rest, line)
    if keyword in ("say", "speak"):
        if not rest:
            raise CliError(f"{where}{keyword} takes the words the caller says")
        return Step("say", rest, line)
    if keyword in ("silence", "timeout") and not rest:
        return Step("silence", "", line)
    if keyword == "hangup" and not rest:
        return Step("hangup", "", line)
    if keyword == "dial":
        if rest.lower() not in _OUTCOMES:
            raise CliError(f"{where}dial takes one of {', '.join(_OUTCOMES)}, not {rest!r}")
        return Step("dial", rest.lower(), line)
    if keyword == "hook":
        name, _, fields = rest.partition(" ")
        if not name or "=" in name:
            raise CliError(f"{where}hook takes the name of the waiting verb's hook, e.g. waitHook")
        parsed = _fields(fields, where)
        reserved = sorted(_HOOK_RESERVED & parsed.keys())
        if reserved:
            raise CliError(f"{where}a hook step cannot set the field(s) {', '.join(reserved)}")
        return Step("hook", name, line, parsed)
    if keyword == "result":
        return Step("result", rest, line, _fields(rest, where))
    if keyword == "expect":
        if not rest:
            raise CliError(f"{where}expect takes the text the caller should have heard")
        return Step("expect", rest, line)
    if keyword == "expect-end" and not rest:
        return Step("expect-end", "", line)
    if waiting_for == "gather":
        if not stripped:
            return Step("silence", "", line)
        return Step("press", stripped, line) if set(stripped) <= _KEYS else Step("say", stripped, line)
    if waiting_for == "dial" and stripped.lower() in _OUTCOMES:
        return Step("dial", stripped.lower(), line)
    if not stripped:
        return None
    raise CliError(f"{where}not a step: {stripped!r} (one of: {_STEP_HELP})")


def _fields(text: str, where: str) -> dict[str, Any]:
    """``KEY=VALUE ...`` as a payload: a value that is JSON as what it says, else as a string."""
    text = text.strip()
    found = list(_FIELD.finditer(text))
    if text and (not found or found[0].start() != 0):
        stray = text[: found[0].start() if found else len(text)].split()[0]
        raise CliError(f"{where}a field is KEY=VALUE, not {stray!r}")
    fields: dict[str, Any] = {}
    ends: list[re.Match[str] | None] = [*found[1:], None] if found else []
    for match, after in zip(found, ends, strict=True):
        value = text[match.end() : after.start() if after is not None else len(text)].strip()
        try:
            fields[match.group(1)] = json.loads(value)
        except ValueError:
            fields[match.group(1)] = value
    return fields


def _read_script(path: str) -> list[Step]:
    try:
        with open(path, encoding="utf-8") as file:
            lines = file.read().splitlines()
    except OSError as exc:
        raise CliError(f"cannot read the script {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CliError(f"the script {path} is not UTF-8 text") from None
    steps = [parse_step(text, number) for number, text in enumerate(lines, start=1)]
    return [step for step in steps if step is not None]


def _credentials(value: str | None) -> tuple[str, str] | None:
    if value is None:
        username, password = os.environ.get(ENV_USERNAME), os.environ.get(ENV_PASSWORD)
        return (username, password) if username and password else None
    username, sep, password = value.partition(":")
    if not sep or not username or not password:
        raise CliError("--basic-auth takes USERNAME:PASSWORD")
    return username, password


class _Simulation:
    """One call played against the app, its steps from a script or from the terminal."""

    def __init__(self, call: SimulatedCall, *, quiet: bool) -> None:
        self.call = call
        self.shown = 0
        self.mark = 0
        """How much of what the caller heard was there before the last step."""
        self.out = sys.stderr if quiet else sys.stdout
        self.failures: list[str] = []

    def show(self) -> None:
        """Print the call's new log lines: what the app said, what the caller did."""
        log: list[str] = self.call.log
        for line in log[self.shown :]:
            print(f"  {line}", file=self.out, flush=True)
        self.shown = len(log)

    def step(self, step: Step) -> bool:
        """Play one step; False when an expectation failed."""
        call = self.call
        if step.action == "expect":
            heard: list[str] = call.heard[self.mark :]
            if any(step.argument.lower() in text.lower() for text in heard):
                print(f"  ok: heard {step.argument!r}", file=self.out, flush=True)
                return True
            where = f"line {step.line}: " if step.line else ""
            self.failures.append(
                f"{where}expected to hear {step.argument!r}; heard since the last step: {heard!r}"
            )
            return False
        if step.action == "expect-end":
            if call.ended:
                print("  ok: the call is over", file=self.out, flush=True)
                return True
            where = f"line {step.line}: " if step.line else ""
            self.failures.append(f"{where}expected the call to be over; it waits for {call.waiting_for}")
            return False
        self.mark = len(call.heard)
        if step.action == "press":
            call.press(step.argument)
        elif step.action == "say":
            call.speak(step.argument)
        elif step.action == "silence":
            call.silence()
        elif step.action == "dial":
            {
                "answered": call.dial_answered,
                "busy": call.dial_busy,
                "no-answer": call.dial_no_answer,
                "failed": call.dial_failed,
            }[step.argument]()
        elif step.action == "hook":
            call.verb_hook(step.argument, **step.fields)
        elif step.action == "result":
            call.verb_result(**step.fields)
        else:
            call.hangup()
        return True

    def end(self) -> None:
        """Hang up as the caller if the call is still on (its status hook then gets ``completed``)."""
        if not self.call.ended:
            self.call.hangup()


def _prompt(call: SimulatedCall) -> str:
    verb: dict[str, Any] = call.waiting_verb or {}
    if call.waiting_for == "gather":
        value = verb.get("input")
        inputs = [str(item) for item in value] if isinstance(value, list) else ["digits"]
        kinds = " or ".join(("keys to press" if item == "digits" else "words to say") for item in inputs)
        return f"[gather {'/'.join(inputs)}] {kinds}; empty line: silence; hangup: "
    targets = ", ".join(
        str(target.get("number") or target.get("name") or target.get("sipUri") or target.get("type"))
        for target in verb.get("target", [])
        if isinstance(target, dict)
    )
    if call.waiting_for == "dial":
        return f"[dial {targets}] answered, busy, no-answer or failed; hangup: "
    hooks = [key for key, value in verb.items() if key.endswith("Hook") and key != "actionHook" and value]
    named = f" {verb['name']}" if isinstance(verb.get("name"), str) else ""
    offered = f"hook {'|'.join(hooks)} [KEY=VALUE ...], " if hooks else ""
    return f"[{call.waiting_for}{named}] {offered}result [KEY=VALUE ...]; hangup: "


def command_simulate(args: argparse.Namespace) -> int:
    """Play a call against the app served at URL: from a script, or typed at the terminal."""
    import httpx2

    from ..testing import CallSimulator, SimulatorError

    steps = _read_script(args.script) if args.script is not None else None
    secret: str | None = args.secret
    if secret is None:
        secrets = env_secrets(os.environ)
        secret = secrets[0] if secrets else None
    try:
        simulator = CallSimulator(
            args.url,
            call_hook=args.call_hook,
            status_hook=None if args.no_status_hook else args.status_hook,
            secret=secret or False,
            basic_auth=_credentials(args.basic_auth) or False,
            method=args.method,
            timeout=args.timeout,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    simulation: _Simulation | None = None
    error: str | None = None
    with simulator:
        try:
            note(f"calling {simulator.call_hook_url} from {args.from_} to {args.to}")
            call = simulator.start(from_=args.from_, to=args.to, env_vars=env_values(args.env or ()) or None)
            simulation = _Simulation(call, quiet=args.json)
            simulation.show()
            if steps is not None:
                for step in steps:
                    if not simulation.step(step):
                        break
                    simulation.show()
            else:
                interactive = sys.stdin.isatty()
                while not call.ended:
                    if interactive:
                        print(_prompt(call), end="", file=sys.stderr, flush=True)
                    line = sys.stdin.readline()
                    if not line:  # end of input: the caller hangs up
                        break
                    try:
                        typed = parse_step(line, 0, call.waiting_for)
                    except CliError as exc:
                        if not interactive:
                            raise
                        print(f"  {exc}", file=sys.stderr)
                        continue
                    if typed is None:
                        continue
                    try:
                        simulation.step(typed)
                    except SimulatorError as exc:
                        if not interactive or exc.status_code is not None:
                            raise
                        print(f"  {exc}", file=sys.stderr)
                    simulation.show()
            if not call.ended and steps is not None and not simulation.failures:
                note(f"the script ended while the call waits for {call.waiting_for}: the caller hangs up")
            simulation.end()
            simulation.show()
        except SimulatorError as exc:
            error = str(exc)
            if simulation is not None:
                simulation.show()
        except (httpx2.HTTPError, OSError) as exc:  # OSError: a WebSocket that cannot be opened
            raise CliError(f"cannot reach {args.url}: {exc}") from None
    failures = ([error] if error is not None else []) + (simulation.failures if simulation else [])
    if args.json:
        print(json.dumps(_simulation_json(simulation, failures), indent=2, ensure_ascii=False))
    for failure in failures:
        print(f"{PROG} simulate: {failure}", file=sys.stderr)
    if simulation is not None and not args.json:
        call = simulation.call
        ended = f"hung up by {call.hung_up_by}" if call.ended else f"waiting for {call.waiting_for}"
        print(f"call {call.sid}: {len(call.requests)} request(s), {ended}", flush=True)
    return EXIT_PROBLEMS if failures else EXIT_OK


def _simulation_json(simulation: _Simulation | None, failures: list[str]) -> dict[str, Any]:
    call = simulation.call if simulation is not None else None
    return {
        "ok": not failures,
        "failures": failures,
        "call_sid": call.sid if call else None,
        "heard": list(call.heard) if call else [],
        "log": list(call.log) if call else [],
        "verbs": list(call.verbs) if call else [],
        "dialed": list(call.dialed) if call else [],
        "ended": bool(call.ended) if call else False,
        "hung_up_by": call.hung_up_by if call else None,
        "requests": [
            {"kind": sent.kind, "method": sent.method, "url": sent.url, "status_code": sent.status_code}
            for sent in (call.requests if call else [])
        ],
    }


def add_parser(commands: Subcommands) -> None:
    """Add ``simulate`` to the command line's subcommands."""
    simulate = commands.add_parser(
        "simulate",
        help="play a call against the app served at URL",
        description=(
            "Play a call against the app served at URL (its origin, with the path it is mounted under), "
            "as jambonz would: the call hook, then each verb's hook, signed with the webhook secret "
            "(over HTTP), or over jambonz's WebSocket API when URL is ws:// or wss:// (one socket for "
            "the call, opened with the basic auth credentials). "
            "Shows what the caller hears; asks, at each gather, for keys or words and, at each dial, for "
            "its outcome; in a verb jambonz holds the call in (enqueue, conference, ...), for the hooks "
            "jambonz sends while it runs (hook) and how it ends (result). "
            "With --script, the steps come from a file instead, one a line: "
            + _STEP_HELP.replace("%", "%%")
            + ". expect checks, ignoring case, that the caller heard the text since the last step. "
            "Exit status 1 when the app answers an error or an expectation fails."
        ),
    )
    simulate.add_argument(
        "url",
        metavar="URL",
        help="where the app is served, e.g. http://127.0.0.1:3000 (ws://127.0.0.1:3000: the WebSocket API)",
    )
    simulate.add_argument("--script", metavar="FILE", default=None, help="play the steps of FILE")
    simulate.add_argument(
        "--call-hook", default="/incoming", help="the call hook, under URL (default /incoming)"
    )
    simulate.add_argument("--status-hook", default="/status", help="the call status hook (default /status)")
    simulate.add_argument("--no-status-hook", action="store_true", help="send no call status hooks")
    simulate.add_argument(
        "--secret",
        default=None,
        help=f"the webhook secret to sign with (default: the first of ${ENV_SECRET})",
    )
    simulate.add_argument(
        "--basic-auth",
        metavar="USER:PASSWORD",
        default=None,
        help=f"credentials to send (default: ${ENV_USERNAME} and ${ENV_PASSWORD})",
    )
    simulate.add_argument("--method", choices=["POST", "GET"], default="POST", help="how hooks are called")
    simulate.add_argument("--from", dest="from_", default="+15551230000", help="the caller's number")
    simulate.add_argument("--to", default="+15559870000", help="the number called")
    simulate.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="an env var the call hook carries (repeatable)"
    )
    simulate.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for each answer")
    simulate.add_argument(
        "--json",
        action="store_true",
        help="print the call as a JSON document (the transcript goes to stderr)",
    )
    simulate.set_defaults(func=command_simulate)
