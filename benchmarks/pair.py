"""Two apps side by side: both loaded at once on one shared core, to compare their cost per request.

``load.py`` measures the apps one after another, so a slow phase of a shared machine that hits
one measurement and not the next moves the ratio by several percent. Here both servers run
pinned to the *same* CPU, each loaded by its own wrk (both wrk on the other CPU) for the same
seconds: the kernel shares the core between them, so whatever else the machine does hits both
alike, and the ratio of their requests is the inverse ratio of their CPU cost per request. Used
to tell what one change costs (the access line, say); the targets stay load.py's.

    python benchmarks/pair.py A B [--rounds 6] [--duration 8] [--base DIR]

A and B name apps of load.py (``bare``, ``framework``, ``shipped``, and ``bounded``: the framework
served by ``jambonz-webhooks run``'s protocol, jambonz_webhooks.serving); ``base:NAME`` runs the same
app from the checkout ``--base`` (a ``git worktree`` of another commit), so two versions of the
code can be compared. A calibration is an app against itself (``shipped shipped``): its ratios
show the harness's own noise.

Each round prints both apps' requests, requests/s, p99, CPU time, microseconds of CPU per
request, and the ratios A/B; at the end the median of the per-round ratios. Nothing is written
to RESULTS.md: copy what a decision rests on there, every round of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from load import (
    APPS,
    ENV_DROPPED,
    EXTRA_APPS,
    OUT_DIR,
    ROOT,
    SETTLE,
    AppSpec,
    BenchmarkError,
    Server,
    access_lines_of_run,
    check_access_lines,
    check_same_answer,
    check_signatures,
    parse_wrk,
    pin_to,
    signature,
    wrk_command,
)
from payload import write_body

from jambonz_webhooks.security import ENV_SECRET


def app_spec(name: str, base: Path | None) -> AppSpec:
    """The load.py app called ``name``, or with ``base:`` the same app from the checkout ``base``."""
    source, _, app = name.rpartition(":")
    specs = {spec.name: spec for spec in (*APPS, *EXTRA_APPS)}
    if app not in specs or source not in ("", "base"):
        raise SystemExit(f"unknown app {name!r}: one of {', '.join(specs)}, or base:NAME")
    spec = specs[app]
    if not source:
        return spec
    if base is None:
        raise SystemExit(f"{name}: give the other checkout with --base DIR")
    # uvicorn's --app-dir goes first on sys.path: the package and the example app come from there.
    app_dir = base if spec.app_dir == ROOT else base / spec.app_dir.relative_to(ROOT)
    return dataclasses.replace(spec, name=f"base-{app}", app_dir=app_dir, label=f"{spec.label} ({base})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("a", help="the first app (bare, framework, shipped, base:NAME)")
    parser.add_argument("b", help="the second app")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=8, help="seconds of load per round")
    parser.add_argument("--connections", type=int, default=32, help="each wrk's connections")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before the rounds")
    parser.add_argument("--base", type=Path, help="the other checkout, for base:NAME")
    parser.add_argument(
        "--no-line-check",
        dest="line_check",
        action="store_false",
        help="do not check that an app with its log on wrote a line per request (for an experiment "
        "with a writer cut short)",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        parser.error("needs 2 CPUs: one for both servers, one for both wrk")
    server_cpu, wrk_cpu = cpus[-1], cpus[0]
    base = args.base.resolve() if args.base else None
    specs = [app_spec(args.a, base), app_spec(args.b, base)]
    if specs[0].name == specs[1].name:  # a calibration: two servers of one app, two log files
        specs = [dataclasses.replace(specs[0], name=f"{specs[0].name}-1"), specs[1]]

    os.chdir(ROOT)
    body_path = write_body(OUT_DIR / "body.json")
    body = body_path.read_bytes()
    secret = secrets.token_hex(16)
    os.environ[ENV_SECRET] = secret
    for name in ENV_DROPPED:
        os.environ.pop(name, None)
    servers = [Server(spec, server_cpu) for spec in specs]
    ratios: dict[str, list[float]] = {"requests": [], "cpu per request": []}
    try:
        for server in servers:
            server.start(body)
        check_same_answer(servers, body, secret)
        check_signatures(servers, body, secret)
        print(f"A = {specs[0].name}: {specs[0].label}\nB = {specs[1].name}: {specs[1].label}")
        print(f"both servers on CPU {server_cpu}, both wrk on CPU {wrk_cpu}; {args.duration} s rounds")
        time.sleep(SETTLE)
        for server in servers:
            server.new_access_lines()
        if args.warmup:
            together(servers, body_path, secret, args.connections, args.warmup, wrk_cpu, args.line_check)
        for number in range(1, args.rounds + 1):
            runs = together(
                servers, body_path, secret, args.connections, args.duration, wrk_cpu, args.line_check
            )
            cells = []
            for server, (requests, rps, p99, cpu) in zip(servers, runs, strict=True):
                cells.append(
                    f"{server.spec.name} {requests:,} req {rps:,.0f}/s p99 {p99:.2f} ms "
                    f"CPU {cpu:.2f} s {cpu / requests * 1e6:.1f} us/req"
                )
            (a_requests, _, _, a_cpu), (b_requests, _, _, b_cpu) = runs
            ratios["requests"].append(a_requests / b_requests)
            ratios["cpu per request"].append((a_cpu / a_requests) / (b_cpu / b_requests))
            print(
                f"round {number}: {' | '.join(cells)} | A/B requests {ratios['requests'][-1]:.3f}, "
                f"CPU per request {ratios['cpu per request'][-1]:.3f}",
                flush=True,
            )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            try:
                server.stop()
            except BenchmarkError as exc:
                print(f"error: {exc}", file=sys.stderr)
    for what, values in ratios.items():
        shown = ", ".join(f"{value:.3f}" for value in values)
        print(f"A/B {what}: median {statistics.median(values):.3f} ({shown})")
    return 0


def together(
    servers: list[Server],
    body_path: Path,
    secret: str,
    connections: int,
    duration: int,
    cpu: int,
    line_check: bool = True,
) -> list[tuple[int, float, float, float]]:
    """Load every server at once for ``duration`` s: each one's requests, req/s, p99 and CPU seconds."""
    signed = signature(body_path.read_bytes(), secret)
    cpu_before = [server.cpu_seconds() for server in servers]
    processes = [
        subprocess.Popen(
            wrk_command(server.url, body_path, connections, duration, signed),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=pin_to(cpu),
        )
        for server in servers
    ]
    outputs = [process.communicate(timeout=duration + 60)[0] for process in processes]
    cpu_used = [server.cpu_seconds() - before for server, before in zip(servers, cpu_before, strict=True)]
    time.sleep(SETTLE)
    runs: list[tuple[int, float, float, float]] = []
    for server, process, output, seconds in zip(servers, processes, outputs, cpu_used, strict=True):
        if process.returncode != 0:
            raise BenchmarkError(f"wrk failed against {server.spec.name}:\n{output}")
        result = parse_wrk(output)
        if line_check:
            lines = access_lines_of_run(server, result.requests)
            check_access_lines(server, lines, result.requests, connections, "pair")
        runs.append((result.requests, result.rps, result.p99_ms, seconds))
    return runs


if __name__ == "__main__":
    sys.exit(main())
