"""The access log line, in process: stdlib ``logger.info`` against ``access_log.write``.

    python benchmarks/access_log.py [--number 20000] [--rounds 5]

Each round times, per line in microseconds, for text lines then JSON lines:

- ``stdlib``: ``logger.info`` with the message and the extras the route logged before the writer
  existed, to a ``logging.FileHandler`` (findCaller, LogRecord, format, a write and a flush per line);
- ``writer``: ``access_log.write(AccessEntry(...))`` to a file through the framework's
  ``BufferedStreamHandler``, counting the batches it writes (every 512 lines) and a last flush;
- ``keep`` and ``batch``: the writer's cost split in two, 500 lines at a time: the request path
  (build the entry and keep it) and the formatting and writing of the batch (on a timer, off the
  request path, but the same CPU).

A and B alternate round after round, in a running asyncio loop as in the app, so drift in the
machine shows as drift between rounds rather than as a difference between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package, from a checkout

from jambonz_webhooks.logs import (
    ACCESS_LOGGER,
    TEXT_FORMAT,
    AccessEntry,
    BufferedStreamHandler,
    JsonFormatter,
    access_log,
)

SIDS = [f"{index:08x}-5b32-4a5c-9d3e-0123456789ab" for index in range(64)]
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
VERBS = ("say", "gather", "hangup")
MESSAGE = "%s hook %s %s -> %d in %.1f ms, verbs %s, call_sid=%s"


def formatter(as_json: bool) -> logging.Formatter:
    return JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT)


def run_stdlib(path: str, number: int, as_json: bool) -> float:
    """Seconds for ``number`` lines the way routing logs them today."""
    logger = logging.getLogger("bench.stdlib")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(formatter(as_json))
    logger.handlers[:] = [handler]
    started = time.perf_counter()
    for index in range(number):
        sid = SIDS[index & 63]
        verbs = list(VERBS)
        logger.info(
            MESSAGE,
            "call",
            "POST",
            "/incoming",
            200,
            1.234,
            ",".join(verbs),
            sid,
            extra={
                "call_sid": sid,
                "trace_id": TRACE,
                "hook_kind": "call",
                "hook_path": "/incoming",
                "method": "POST",
                "status": 200,
                "duration_ms": 1.234,
                "verbs": verbs,
                "outcome": "handler",
            },
        )
    elapsed = time.perf_counter() - started
    handler.close()
    logger.handlers.clear()
    return elapsed


def writer_handler(path: str, as_json: bool, max_entries: int) -> BufferedStreamHandler:
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.propagate = False  # the framework handler alone, as configure_logging leaves it
    logger.setLevel(logging.INFO)
    handler = BufferedStreamHandler(open(path, "w", encoding="utf-8"), max_entries=max_entries)  # noqa: SIM115
    handler.setFormatter(formatter(as_json))
    logger.handlers[:] = [handler]
    return handler


def write_entries(number: int) -> None:
    write, now = access_log.write, time.time
    for index in range(number):
        write(
            AccessEntry(
                "call",
                "POST",
                "/incoming",
                "/incoming",
                200,
                0.001234,
                SIDS[index & 63],
                TRACE,
                VERBS,
                "handler",
                now(),
            )
        )


def finish(handler: BufferedStreamHandler) -> None:
    handler.close()
    handler.stream.close()
    logging.getLogger(ACCESS_LOGGER).handlers.clear()


def run_writer(path: str, number: int, as_json: bool) -> float:
    """Seconds for ``number`` lines through the writer, its batch writes and a last flush included."""
    handler = writer_handler(path, as_json, 512)
    started = time.perf_counter()
    write_entries(number)
    handler.flush()
    elapsed = time.perf_counter() - started
    finish(handler)
    return elapsed


def run_split(path: str, number: int, as_json: bool) -> tuple[float, float]:
    """Seconds keeping ``number`` entries, and seconds formatting and writing them, 500 at a time."""
    handler = writer_handler(path, as_json, 512)
    keeping = writing = 0.0
    for start in range(0, number, 500):
        started = time.perf_counter()
        write_entries(min(500, number - start))
        kept = time.perf_counter()
        handler.flush()
        keeping += kept - started
        writing += time.perf_counter() - kept
    finish(handler)
    return keeping, writing


async def main(number: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        stdlib_path, writer_path = os.path.join(folder, "stdlib.log"), os.path.join(folder, "writer.log")
        for as_json in (False, True):
            print(f"{'json' if as_json else 'text'} lines, {number} a run, us per line:")
            totals: dict[str, list[float]] = {"stdlib": [], "writer": []}
            for round_number in range(1, rounds + 1):
                runs: list[tuple[str, Callable[[str, int, bool], float], str]] = [
                    ("stdlib", run_stdlib, stdlib_path),
                    ("writer", run_writer, writer_path),
                ]
                figures = []
                for name, run, path in runs:
                    per_line = run(path, number, as_json) / number * 1e6
                    totals[name].append(per_line)
                    figures.append(f"{name} {per_line:6.2f}")
                keep, batch = run_split(writer_path, number, as_json)
                figures.append(f"(keep {keep / number * 1e6:.2f} + batch {batch / number * 1e6:.2f})")
                print(f"  round {round_number}: " + "  ".join(figures))
            best = {name: min(values) for name, values in totals.items()}
            print(
                f"  best: stdlib {best['stdlib']:.2f}  writer {best['writer']:.2f}  "
                f"({best['stdlib'] / best['writer']:.1f}x)"
            )
            lines = Path(writer_path).read_text(encoding="utf-8").splitlines()
            assert len(lines) == number, len(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--number", type=int, default=20000, help="lines a run")
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.number, arguments.rounds))
