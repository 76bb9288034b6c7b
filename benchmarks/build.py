"""Building and encoding the example IVR's call-hook answer: jambonz-webhooks against the PyPI
jambonz-python-sdk's ``WebhookResponse``, both validating every verb, in one process.

    python benchmarks/build.py [--number 20000] [--repeat 7] [--write]

The answer is say, gather (with a nested say prompt), say, hangup, the verbs of
``example_app``'s ``/incoming``. Each side builds it from scratch and encodes it to JSON bytes,
as a request would. The two sides alternate repeats; the best of each is compared. ``--write``
records the result in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import timeit
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jambonz_sdk.webhook import WebhookResponse as SdkResponse  # type: ignore[import-untyped]

from jambonz_webhooks import WebhookResponse
from jambonz_webhooks.hooks import HookContext
from jambonz_webhooks.response import encode_verbs

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN_MARK = "<!-- build:begin (this section is written by benchmarks/build.py --write) -->"
END_MARK = "<!-- build:end -->"
TARGET = 3.0

GREETING = "Hello, and thank you for calling Acme."
PROMPT = "Press 1 for sales or 2 for support"
NO_INPUT = "We did not receive any input."


async def menu() -> None:
    """Stands for the /menu handler the gather's action hook names."""


CONTEXT = HookContext("", {menu: "/menu"})


def ours() -> bytes:
    # As a route does: the handler builds the answer, the route encodes it with the request's
    # hook context (the handler's path written out then).
    response = (
        WebhookResponse()
        .say(text=GREETING)
        .gather(input=["digits", "speech"], num_digits=1, timeout=10, action_hook=menu, say={"text": PROMPT})
        .say(text=NO_INPUT)
        .hangup()
    )
    return encode_verbs(response.verbs, CONTEXT)


def sdk() -> bytes:
    response = SdkResponse()
    response.say(text=GREETING).gather(
        input=["digits", "speech"], numDigits=1, timeout=10, actionHook="/menu", say={"text": PROMPT}
    ).say(text=NO_INPUT).hangup()
    text: str = response.to_json_string()
    return text.encode()


def same_answer() -> list[str]:
    """Check both build the same answer; return how the SDK's JSON differs in form."""
    mine: list[dict[str, Any]] = json.loads(ours())
    theirs: list[dict[str, Any]] = json.loads(sdk())
    notes = []
    gather = theirs[1]
    if gather.get("say", {}).pop("verb", None) is not None:
        notes.append('the SDK writes a "verb" key inside the nested say, which jambonz rejects')
    if gather.pop("listenDuringPrompt", None) is not None:
        notes.append("the SDK adds the schema default listenDuringPrompt: true")
    if isinstance(gather.get("numDigits"), float):
        notes.append("the SDK writes numDigits and timeout as floats (1.0, 10.0)")
    assert mine == theirs, (mine, theirs)
    return notes


def measure(number: int, repeat: int) -> dict[str, float]:
    best = {"jambonz-webhooks": float("inf"), "jambonz-python-sdk": float("inf")}
    cases: list[tuple[str, Callable[[], bytes]]] = [("jambonz-webhooks", ours), ("jambonz-python-sdk", sdk)]
    for _ in range(repeat):
        for name, case in cases:
            best[name] = min(best[name], timeit.timeit(case, number=number) / number * 1e6)
        cases.reverse()
    return best


def write(best: dict[str, float], notes: list[str], command: str) -> None:
    ratio = best["jambonz-python-sdk"] / best["jambonz-webhooks"]
    verdict = "met" if ratio >= TARGET else "NOT met"
    lines = [
        BEGIN_MARK,
        "## Building the call-hook answer: jambonz-webhooks vs jambonz-python-sdk",
        "",
        f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- Python {platform.python_version()}, pydantic {metadata.version('pydantic')}, "
        f"jambonz-python-sdk {metadata.version('jambonz-python-sdk')}",
        f"- Command (from the repository's root): `{command}`",
        "- The answer: say, gather (digits and speech, numDigits 1, timeout 10, actionHook, nested say), "
        "say, hangup; built from scratch and encoded to JSON bytes, every verb validated, in both.",
        "",
        "| library | µs per answer (best of the repeats) |",
        "| --- | ---: |",
        *(f"| {name} | {value:.2f} |" for name, value in best.items()),
        "",
        f"jambonz-webhooks is **{ratio:.2f}x** as fast; target {TARGET:g}x: **{verdict}**",
        "",
        "The two answers are the same JSON except where the SDK's differs in form: " + "; ".join(notes) + ".",
        END_MARK,
    ]
    text = RESULTS.read_text()
    section = "\n".join(lines)
    if BEGIN_MARK in text:
        start, end = text.index(BEGIN_MARK), text.index(END_MARK) + len(END_MARK)
        text = text[:start] + section + text[end:]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=20000, help="answers built per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats of each side, alternated")
    parser.add_argument("--write", action="store_true", help="record the result in RESULTS.md")
    args = parser.parse_args()
    notes = same_answer()
    best = measure(args.number, args.repeat)
    for name, value in best.items():
        print(f"{value:8.2f} us  {name}")
    ratio = best["jambonz-python-sdk"] / best["jambonz-webhooks"]
    print(f"jambonz-webhooks is {ratio:.2f}x as fast (target {TARGET}x)")
    if args.write:
        command = "python benchmarks/build.py " + " ".join(sys.argv[1:])
        write(best, notes, command.strip())


if __name__ == "__main__":
    main()
