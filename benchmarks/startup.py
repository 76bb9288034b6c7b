"""Import time and memory of the example app: what a worker pays before its first request.

Each run is a new interpreter, ``python -X importtime -c "import example_app.app"`` from the
repository's root, and reports, from the interpreter's own table (microseconds, shown in ms):

- the cumulative import time of ``example_app.app`` (all it imports: Starlette, pydantic, the
  package..., and its parent package ``example_app``, which Python imports within it);
- the package's own: the sum of the self times of the ``jambonz_webhooks*`` and ``example_app*``
  modules, the part this project's code decides (target: under 200 ms);
- the 10 own modules with the largest self time (the median over the runs).

Beside them, the CPU time (user + system) each interpreter used from start to exit: the import
times are wall-clock times, which on a shared machine also count the time other work holds the
CPU, and the CPU time shows how much of a slow run that was.

Then, as many runs again without ``-X importtime``, each a new interpreter that imports
``example_app.app`` and prints its VmRSS and VmHWM (``/proc/self/status``); for reference, the
same for an interpreter that imports nothing.

Before the runs, one import that is not measured writes the bytecode caches (``__pycache__``),
as any earlier start of the app would have; every measured run is printed. The JAMBONZ_*
variables are left out of the runs' environment (a ``JAMBONZ_REDIS_URL`` would import redis).

    python benchmarks/startup.py [--runs 7] [--write]

``--write`` rewrites the startup section of benchmarks/RESULTS.md. Exits 1 when an import fails
or its table cannot be read.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import resource
import statistics
import subprocess
import sys
from dataclasses import dataclass

from load import ROOT, code_version, command_line, package_version, write_results

MODULE = "example_app.app"
OWN = ("jambonz_webhooks", "example_app")
TARGET_MS = 200.0
TOP = 10
# "import time:       540 |      11849 |   name", the name indented by its depth.
_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| *(\S+)\s*$")
# Run after the import, in the same interpreter: print the two memory lines of /proc/self/status.
_MEMORY = (
    "import sys; [sys.stdout.write(line) for line in open('/proc/self/status') "
    "if line.startswith(('VmRSS:', 'VmHWM:'))]"
)


class StartupError(Exception):
    """A run failed or gave what cannot be read."""


@dataclass(frozen=True)
class ImportRun:
    number: int
    cumulative_us: int  # example_app.app's cumulative time, its parent package's import included
    own_us: int  # sum of the self times of the package's modules
    cpu_ms: float  # CPU time (user + system) of the whole interpreter run, startup and exit included
    own_self_us: dict[str, int]  # by module


@dataclass(frozen=True)
class MemoryRun:
    number: int
    what: str
    rss_kib: int
    hwm_kib: int


def is_own(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in OWN)


def clean_env() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("JAMBONZ_")}


def python(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run a new interpreter from the repository's root; its output, and the CPU time it used (ms)."""
    # The runs are this process's only children, one at a time: the difference is this run's.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise StartupError(f"{' '.join(args)} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return completed, cpu * 1000


def parse_importtime(text: str, number: int, cpu_ms: float) -> ImportRun:
    """The figures of one ``-X importtime`` table (on stderr)."""
    own: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        self_us, cumulative_us, module = int(match[1]), int(match[2]), match[3]
        cumulative[module] = cumulative_us
        if is_own(module):
            own[module] = own.get(module, 0) + self_us
    if MODULE not in cumulative or not own:
        raise StartupError(f"no {MODULE} in the -X importtime table:\n{text[-3000:]}")
    return ImportRun(number, cumulative[MODULE], sum(own.values()), cpu_ms, own)


def read_memory(text: str, number: int, what: str) -> MemoryRun:
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        fields[name] = int(value.split()[0])  # "  12345 kB"
    if set(fields) != {"VmRSS", "VmHWM"}:
        raise StartupError(f"cannot read the memory lines: {text!r}")
    return MemoryRun(number, what, fields["VmRSS"], fields["VmHWM"])


def ms(us: float) -> str:
    return f"{us / 1000:.1f}"


def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report(imports: list[ImportRun], memory: list[MemoryRun]) -> str:
    lines = [
        f"| run | `{MODULE}`, cumulative (ms) | own modules, sum of self (ms) "
        "| the interpreter's CPU time, whole run (ms) |",
        "|---:|---:|---:|---:|",
    ]
    for r in imports:
        lines.append(f"| {r.number} | {ms(r.cumulative_us)} | {ms(r.own_us)} | {r.cpu_ms:.0f} |")
    own = statistics.median(r.own_us for r in imports)
    lines.append(
        f"| median | **{ms(statistics.median(r.cumulative_us for r in imports))}** | **{ms(own)}** "
        f"| {statistics.median(r.cpu_ms for r in imports):.0f} |"
    )
    modules = {module for r in imports for module in r.own_self_us}
    medians = {module: statistics.median(r.own_self_us.get(module, 0) for r in imports) for module in modules}
    top = sorted(medians.items(), key=lambda item: item[1], reverse=True)[:TOP]
    lines += [
        "",
        f"| own module, top {TOP} by self time | self, median (ms) | each run (ms) |",
        "|---|---:|---|",
    ]
    for module, median in top:
        each = " ".join(ms(r.own_self_us.get(module, 0)) for r in imports)
        lines.append(f"| `{module}` | {ms(median)} | {each} |")
    lines += [
        "",
        "| run | what | VmRSS (MiB) | VmHWM (MiB) |",
        "|---:|---|---:|---:|",
    ]
    for m in memory:
        lines.append(f"| {m.number} | {m.what} | {mib(m.rss_kib)} | {mib(m.hwm_kib)} |")
    after = [m.rss_kib for m in memory if m.what == f"import {MODULE}"]
    bare = [m.rss_kib for m in memory if m.what != f"import {MODULE}"]
    met = "met" if own < TARGET_MS * 1000 else "NOT met"
    lines += [
        "",
        f"- The package's own import time (`jambonz_webhooks*` and `example_app*`, median of the sums of "
        f"self times): **{ms(own)} ms**; target < {TARGET_MS:g} ms: **{met}**",
        f"- VmRSS right after `import {MODULE}`: **{mib(statistics.median(after))} MiB** (median; "
        f"an interpreter that imports nothing: {mib(statistics.median(bare))} MiB)",
    ]
    return "\n".join(lines)


def results_section(args: argparse.Namespace, started: datetime.datetime, table: str) -> str:
    lines = [
        f"## Startup: importing `{MODULE}`",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Code: {code_version()}",
        f"- Python {sys.version.split()[0]}, starlette {package_version('starlette')}, pydantic "
        f"{package_version('pydantic')} (pydantic-core {package_version('pydantic-core')}), uvicorn "
        f"{package_version('uvicorn')}; `nproc` = {os.cpu_count()}",
        f"- Command (from the repository's root): `{command_line('startup.py')}`",
        f'- Each import run: `python -X importtime -c "import {MODULE}"`, a new interpreter each time, '
        "after one unmeasured import that writes the bytecode caches; own modules are `jambonz_webhooks*` "
        "and `example_app*`; beside them the interpreter's CPU time (user + system, start to exit), since "
        "the import times are wall-clock",
        f"- Each memory run: a new interpreter that imports `{MODULE}` (without `-X importtime`) and "
        "prints its `/proc/self/status`; and one that imports nothing",
        "",
        table,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="interpreters started for each measurement")
    parser.add_argument("--write", action="store_true", help="rewrite the startup section of RESULTS.md")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    started = datetime.datetime.now(datetime.UTC)
    imports: list[ImportRun] = []
    memory: list[MemoryRun] = []
    try:
        python("-c", f"import {MODULE}")  # writes __pycache__; not measured
        for number in range(1, args.runs + 1):
            completed, cpu_ms = python("-X", "importtime", "-c", f"import {MODULE}")
            run = parse_importtime(completed.stderr, number, cpu_ms)
            imports.append(run)
            print(
                f"import run {number}: {MODULE} cumulative {ms(run.cumulative_us)} ms, "
                f"own modules {ms(run.own_us)} ms; the interpreter's CPU time {run.cpu_ms:.0f} ms",
                flush=True,
            )
        for number in range(1, args.runs + 1):
            for what, code in ((f"import {MODULE}", f"import {MODULE}; {_MEMORY}"), ("nothing", _MEMORY)):
                reading = read_memory(python("-c", code)[0].stdout, number, what)
                memory.append(reading)
                print(
                    f"memory run {number}: {what}: VmRSS {mib(reading.rss_kib)} MiB, "
                    f"VmHWM {mib(reading.hwm_kib)} MiB",
                    flush=True,
                )
    except (StartupError, subprocess.TimeoutExpired) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table = report(imports, memory)
    print()
    print(table)
    if args.write:
        write_results(results_section(args, started, table), "startup")
        print("\nwrote benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
