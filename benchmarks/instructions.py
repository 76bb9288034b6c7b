"""Instructions and cache misses per request under uvicorn, counted by valgrind: load.py's apps, noise-free.

    python benchmarks/instructions.py [APP ...] [--base DIR] [--requests 2000] [--connections 32]
                                      [--rounds 2] [--write]

load.py's requests/s move by 10-20% between two runs of the same app on this shared machine, and
the whole machine can run three times slower one day than another. callgrind counts what each
server executes instead: the same to within half a percent run after run, whatever else the
machine does. It also simulates the caches a request goes through: first-level caches of the
machine's sizes, and a last level of 512 KiB, so that a "last level miss" is an access that
leaves the core's own caches. The hosts here have had 512 KiB and 1 MiB of L2 a core; the
simulation leaves out the kernel and everything else that shares the core between two requests,
so 512 KiB stands for the part of an L2 a request keeps (with 1 MiB both apps' requests fit
whole: ~190 misses against ~100). A model, then: what it counts is checked by the CPU time of
real runs (pair.py, load.py) and by cold.py. Counted instructions miss that part of the cost;
load.py's figures include it.

APP names load.py's apps as pair.py does (default ``bare framework shipped``; ``base:NAME`` is
the same app from the checkout ``--base``, a ``git worktree`` of another commit, so that what a
change saves is counted exactly); ratios are over the first. Each app runs in one
uvicorn process under ``valgrind --tool=callgrind --instr-atstart=no --cache-sim=yes
--LL=524288,8,64``: start-up is not counted. The server is checked as load.py checks it (signed
-> 200 with the same JSON, unsigned or wrongly signed -> 401), gets ``--warmup`` requests, then
``callgrind_control -i on`` turns counting on, ``--requests`` signed POSTs go through
``--connections`` keep-alive connections (an asyncio client in this process, each answer checked
200), ``callgrind_control -d`` writes the counts, and the server stops. Rounds alternate the
apps (A B C, B C A, ...). Two things weigh differently than at full speed: what runs on a timer
(the deadline's tick, the access log's batch writes) runs far more often per request in a server
slowed down some fifty times, and the HMAC both apps compute counts some 85k instructions a
request there where the CPU's SHA instructions take a few microseconds (see CAVEATS). Needs
valgrind (``apt-get install -y valgrind``). ``--write`` records the run in RESULTS.md. Exits 1
when a server fails or answers wrongly, 2 when valgrind is missing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from load import (
    ENV_DROPPED,
    OUT_DIR,
    PATH,
    RESULTS,
    ROOT,
    AppSpec,
    BenchmarkError,
    Server,
    check_same_answer,
    check_signatures,
    command_line,
    environment,
    rotation,
    signature,
    write_results,
)
from pair import app_spec
from payload import body as make_body

from jambonz_webhooks.security import ENV_SECRET

LAST_LEVEL = "524288,8,64"  # bytes, ways, line: what of a core's L2 a request keeps (see above)
EVENTS = ("Ir", "I1mr", "D1mr", "D1mw", "ILmr", "DLmr", "DLmw")
CAVEATS = (
    "Under valgrind a server answers some 80 requests a second, so what runs on a timer (the "
    "deadline's 50 ms tick, the access log's batch writes) weighs more per request than at full "
    "speed; and OpenSSL's SHA-256 takes a path there that counts some 85k instructions a request "
    "for the HMAC both apps compute (a few microseconds natively, on the CPU's SHA instructions), "
    "which brings the ratios nearer 1 than the work itself"
)


@dataclass(frozen=True)
class Counts:
    """What callgrind counted over one app's measured requests, per request."""

    round: int
    app: str
    requests: int
    instructions: float
    first_level_misses: float  # instruction and data, reads and writes
    last_level_misses: float

    @staticmethod
    def from_dump(path: Path, round_: int, app: str, requests: int) -> Counts:
        """Read the ``events:`` and ``summary:`` lines of a callgrind dump."""
        names: list[str] = []
        totals: list[int] = []
        for line in path.read_text().splitlines():
            if line.startswith("events:"):
                names = line.split()[1:]
            elif line.startswith("summary:"):
                totals = [int(value) for value in line.split()[1:]]
        if not names or len(names) != len(totals) or any(event not in names for event in EVENTS):
            raise BenchmarkError(f"{path}: no cache-simulation summary (events {names})")
        count = dict(zip(names, totals, strict=True))
        return Counts(
            round_,
            app,
            requests,
            count["Ir"] / requests,
            (count["I1mr"] + count["D1mr"] + count["D1mw"]) / requests,
            (count["ILmr"] + count["DLmr"] + count["DLmw"]) / requests,
        )


def valgrind_wrapper(out: Path) -> list[str]:
    return [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--cache-sim=yes",
        f"--LL={LAST_LEVEL}", f"--callgrind-out-file={out}",
    ]  # fmt: skip


def request_bytes(body: bytes, secret: str) -> bytes:
    head = (
        f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Jambonz-Signature: {signature(body, secret)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def drive(port: int, request: bytes, requests: int, connections: int) -> None:
    """Send ``request`` ``requests`` times over ``connections`` keep-alive connections; all must get 200."""
    left = requests

    async def connection() -> None:
        nonlocal left
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while left > 0:
                left -= 1
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 200 "):
                    raise BenchmarkError(f"answered {head[:60]!r}")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                await reader.readexactly(length)
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))


def callgrind_control(option: str, pid: int) -> None:
    done = subprocess.run(
        ["callgrind_control", option, str(pid)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchmarkError(
            f"callgrind_control {option} {pid}: {done.stderr.strip() or done.stdout.strip()}"
        )


def measure(
    spec: AppSpec, round_: int, body: bytes, secret: str, args: argparse.Namespace
) -> tuple[Counts, object]:
    """One app, one round: its counts, and its answer to a signed request (for the same-JSON check)."""
    out = OUT_DIR / f"callgrind.{spec.name}.{round_}.out"
    for old in OUT_DIR.glob(f"{out.name}*"):
        old.unlink()
    server = Server(spec, wrapper=valgrind_wrapper(out))
    try:
        server.start(body, timeout=180.0)
        if server.process is None:
            raise BenchmarkError(f"{spec.name}: uvicorn is not running")
        answer = check_same_answer([server], body, secret)
        check_signatures([server], body, secret)
        request = request_bytes(body, secret)
        asyncio.run(drive(server.port, request, args.warmup, args.connections))
        callgrind_control("--instr=on", server.process.pid)
        asyncio.run(drive(server.port, request, args.requests, args.connections))
        callgrind_control("--dump", server.process.pid)
        callgrind_control("--instr=off", server.process.pid)
    finally:
        server.stop(timeout=60.0)
    dumps = sorted(OUT_DIR.glob(f"{out.name}.*"))
    if len(dumps) != 1:
        raise BenchmarkError(f"{spec.name}: expected one dump of the measured requests, found {dumps}")
    return Counts.from_dump(dumps[0], round_, spec.name, args.requests), answer


def report(counts: list[Counts], first: str) -> str:
    lines = [
        "| round | app | instructions / request | first-level misses / request "
        "| last-level (512 KiB) misses / request |",
        "|------:|-----|---:|---:|---:|",
    ]
    for item in counts:
        lines.append(
            f"| {item.round} | {item.app} | {item.instructions:,.0f} | {item.first_level_misses:,.0f} | "
            f"{item.last_level_misses:,.0f} |"
        )
    by_app: dict[str, list[Counts]] = {}
    for item in counts:
        by_app.setdefault(item.app, []).append(item)
    reference = by_app[first]
    lines += [
        "",
        f"| app | instructions, over {first} | first-level misses, over {first} "
        f"| last-level misses, over {first} "
        "| instructions, spread between rounds |",
        "|-----|---:|---:|---:|---:|",
    ]
    for app, items in by_app.items():

        def ratio(field: str, items: list[Counts] = items) -> float:
            mine: float = statistics.median(getattr(item, field) for item in items)
            theirs: float = statistics.median(getattr(item, field) for item in reference)
            return mine / theirs

        values = [item.instructions for item in items]
        spread = (max(values) - min(values)) / statistics.median(values)
        lines.append(
            f"| {app} | {ratio('instructions'):.3f} | {ratio('first_level_misses'):.3f} | "
            f"{ratio('last_level_misses'):.3f} | {spread:.2%} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("apps", nargs="*", default=["bare", "framework", "shipped"], help="load.py's apps")
    parser.add_argument("--base", type=Path, help="the other checkout, for base:NAME")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per app and round")
    parser.add_argument("--warmup", type=int, default=300, help="requests before counting starts")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="record the run in RESULTS.md")
    args = parser.parse_args(argv)
    specs = [app_spec(name, args.base.resolve() if args.base else None) for name in args.apps]
    if len({spec.name for spec in specs}) != len(specs):
        parser.error("name each app once")
    if subprocess.run(["valgrind", "--version"], capture_output=True, check=False).returncode != 0:
        print("valgrind is missing: apt-get install -y valgrind", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    started = datetime.datetime.now(datetime.UTC)
    env = environment()
    secret = secrets.token_hex(16)
    os.environ[ENV_SECRET] = secret
    for name in ENV_DROPPED:
        os.environ.pop(name, None)
    body = make_body()
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    counts: list[Counts] = []
    answers: dict[str, object] = {}
    try:
        for round_ in range(1, args.rounds + 1):
            for spec in rotation(specs, round_):
                begun = time.monotonic()
                item, answers[spec.name] = measure(spec, round_, body, secret, args)
                counts.append(item)
                print(
                    f"round {round_} {spec.name}: {item.instructions:,.0f} instructions, "
                    f"{item.first_level_misses:,.0f} first-level and {item.last_level_misses:,.0f} "
                    f"last-level misses per request ({time.monotonic() - begun:.0f} s)",
                    flush=True,
                )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if len({repr(answer) for answer in answers.values()}) != 1:
        print(f"error: the apps answer differently: {answers}", file=sys.stderr)
        return 1
    text = report(counts, specs[0].name)
    print()
    print(text)
    if args.write:
        section = "\n".join(
            [
                "## Instructions and cache misses per request under uvicorn (callgrind)",
                "",
                f"- Date: {started:%Y-%m-%d %H:%M} UTC",
                *env,
                f"- Command (from the repository's root): `{command_line('instructions.py')}`",
                f"- The apps and their settings as in the load section; each uvicorn under `valgrind "
                f"--tool=callgrind --instr-atstart=no --cache-sim=yes --LL={LAST_LEVEL}`; counted: "
                f"{args.requests:,} signed POSTs of the 2.6 KB call hook over {args.connections} "
                f"keep-alive connections, after {args.warmup} uncounted ones; every answer 200",
                f"- {CAVEATS}",
                "",
                text,
            ]
        )
        write_results(section, "instructions")
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
