"""The access log writer: kept raw, written in batches, line for line what stdlib logging writes."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import logging
import re
import sys
import threading
import time
import weakref
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pytest

from jambonz_webhooks.logs import (
    ACCESS_LOGGER,
    TEXT_FORMAT,
    AccessEntry,
    AccessLog,
    BufferedStreamHandler,
    JsonFormatter,
    access_log,
    configure_logging,
)

_names = itertools.count()
SECOND = 1_764_686_839.0
NOW = SECOND + 0.25  # a fixed time, so lines compare exactly


def entry(**fields: Any) -> AccessEntry:
    values: dict[str, Any] = {
        "kind": "call",
        "method": "POST",
        "path": "/incoming",
        "hook_path": "/incoming",
        "status": 200,
        "duration": 0.00123,
        "call_sid": "CA0123456789abcdef",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "verbs": ("say", "gather", "hangup"),
        "outcome": "handler",
        "created": NOW,
    }
    values.update(fields)
    return AccessEntry(**values)


class CountingStream(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


class Collect(logging.Handler):
    """A user's handler: keeps the records it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Isolated:
    """An access log on a logger of its own, whose only handler is a framework handler."""

    log: AccessLog
    handler: BufferedStreamHandler
    stream: CountingStream

    @property
    def logger(self) -> logging.Logger:
        return self.log.logger

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()


def _isolated(formatter: logging.Formatter | None = None, **options: Any) -> Isolated:
    # Made inside the test: pytest adds its capture handlers to every non-propagating logger that
    # exists when a test starts, which (rightly) turns the fast path off.
    log = AccessLog(f"jwtest{next(_names)}.access")
    log.logger.propagate = False
    log.logger.setLevel(logging.INFO)
    stream = CountingStream()
    handler = BufferedStreamHandler(stream, **options)
    handler.setFormatter(formatter or logging.Formatter(TEXT_FORMAT))
    log.logger.addHandler(handler)
    return Isolated(log, handler, stream)


def _no_records(monkeypatch: pytest.MonkeyPatch, log: AccessLog) -> None:
    """Fail the test if the writer makes a LogRecord: the fast path must not."""

    def refuse(*args: Any, **kwargs: Any) -> logging.LogRecord:
        raise AssertionError("a LogRecord was made on the fast path")

    monkeypatch.setattr(log.logger, "makeRecord", refuse)


# Entries whose lines must come out the same both ways: benign, hostile, odd, and times at the
# edges of a millisecond and of a second (datetime rounds to the microsecond, logging truncates).
SAME_BOTH_WAYS = [
    entry(),
    entry(call_sid=None, trace_id=None, verbs=(), status=204, kind="status", outcome="handler"),
    entry(call_sid="CA1\nINFO forged line", path="/incoming\r\n\x1b[31mred\x7f\x85\u2028\u2029"),
    entry(call_sid="C" * 100, trace_id="t" * 100, path="/p" * 300, outcome="o" * 50),
    entry(verbs=tuple(f"verb{i}" for i in range(20)), method="GET"),
    entry(verbs=("say\nsay", "x" * 40), call_sid="é中\ud800🙂"),
    entry(duration=12.3456789, status=500, outcome="error"),
    entry(created=SECOND + 0.9999996),  # datetime rounds it up to the next second
    entry(created=SECOND + 0.0004999),
    entry(created=SECOND + 0.9995),
    entry(created=SECOND + 0.999),
    entry(created=NOW + 3600.123456),
]


@pytest.mark.parametrize("formatter", [logging.Formatter(TEXT_FORMAT), JsonFormatter()], ids=["text", "json"])
def test_the_fast_path_writes_what_stdlib_logging_writes(
    monkeypatch: pytest.MonkeyPatch, formatter: logging.Formatter
) -> None:
    iso = _isolated(formatter)
    with monkeypatch.context() as patch:
        _no_records(patch, iso.log)
        for item in SAME_BOTH_WAYS:
            iso.log.write(item)
        iso.handler.flush()
    fast = iso.stream.getvalue()
    # The same logger, now with a plain StreamHandler: every entry goes through stdlib logging.
    reference = io.StringIO()
    plain = logging.StreamHandler(reference)
    plain.setFormatter(formatter)
    iso.logger.handlers[:] = [plain]
    for item in SAME_BOTH_WAYS:
        iso.log.write(item)
    assert fast.splitlines() == reference.getvalue().splitlines()
    assert fast == reference.getvalue()
    assert len(fast.splitlines()) == len(SAME_BOTH_WAYS)


def test_the_message_and_attributes_are_todays() -> None:
    iso = _isolated()
    user = Collect()
    iso.logger.addHandler(user)
    iso.log.write(entry())
    (record,) = user.records
    assert record.getMessage() == (
        "call hook POST /incoming -> 200 in 1.2 ms, verbs say,gather,hangup, call_sid=CA0123456789abcdef"
    )
    assert record.levelno == logging.INFO
    assert record.name == iso.log.name
    assert record.created == NOW
    assert record.msecs == 250.0
    fields = {
        key: getattr(record, key)
        for key in (
            "call_sid",
            "trace_id",
            "hook_kind",
            "hook_path",
            "method",
            "status",
            "duration_ms",
            "verbs",
            "outcome",
        )
    }
    assert fields == {
        "call_sid": "CA0123456789abcdef",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "hook_kind": "call",
        "hook_path": "/incoming",
        "method": "POST",
        "status": 200,
        "duration_ms": 1.23,
        "verbs": ["say", "gather", "hangup"],
        "outcome": "handler",
    }
    text = iso.lines()[0]
    assert text.endswith(f" INFO {iso.log.name}: {record.getMessage()}")
    iso.log.write(entry(call_sid=None, verbs=()))
    assert iso.lines()[1].endswith("verbs -, call_sid=None")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_control_characters_never_make_a_second_line(as_json: bool) -> None:
    iso = _isolated(JsonFormatter() if as_json else None)
    hostile = "CA1\n2026-01-01 00:00:00,000 INFO forged\x1b[2J\x85\u2028end"
    iso.log.write(entry(call_sid=hostile, path="/incoming\r\nX-Injected: 1", verbs=("say\nhangup",)))
    iso.handler.flush()
    text = iso.stream.getvalue()
    assert text.count("\n") == 1
    assert len(text.splitlines()) == 1  # splitlines also breaks on \x85, \u2028, \x1c...
    if as_json:
        data = json.loads(text)
        assert data["call_sid"] == hostile  # JSON carries the value itself, escaped by JSON
        assert data["verbs"] == ["say\nhangup"]
        assert "call_sid=CA1\\n2026-01-01" in data["message"]
        assert "\\u0085" in text and "\\u2028" in text
    else:
        assert "call_sid=CA1\\n2026-01-01 00:00:00,000 INFO forged\\x1b[2J\\x85\\u2028end" in text
        assert "POST /incoming\\r\\nX-Injected: 1 -> 200" in text
        assert "verbs say\\nhangup," in text
        assert "\x1b" not in text


def test_a_mebibyte_call_sid_is_bounded() -> None:
    iso = _isolated()
    user = Collect()
    iso.log.write(entry(call_sid="A" * 2**20, path="/" + "p" * 2**20, trace_id="T" * 2**20))
    iso.logger.addHandler(user)
    iso.log.write(entry(call_sid="A" * 2**20, verbs=("x" * 2**20,) * 1000))
    first, second = iso.lines()
    assert len(first) < 600
    assert "call_sid=" + "A" * 64 + "..." in first
    assert len(second) < 1000
    assert "verbs " + ",".join(["x" * 32 + "..."] * 16) + ",..., call_sid" in second
    (record,) = user.records
    assert record.call_sid == "A" * 64 + "..."  # type: ignore[attr-defined]
    assert len(record.verbs) == 17  # type: ignore[attr-defined]
    as_json = JsonFormatter().format(record)
    assert len(as_json) < 2000


@pytest.mark.slow
async def test_the_timer_writes_a_batch_in_one_write(monkeypatch: pytest.MonkeyPatch) -> None:
    iso = _isolated()
    _no_records(monkeypatch, iso.log)
    for index in range(5):
        iso.log.write(entry(call_sid=f"CA{index}"))
    assert iso.stream.getvalue() == ""  # kept, not written, on the request path
    await asyncio.sleep(iso.handler.interval * 3)
    assert [line.rsplit("=", 1)[1] for line in iso.lines()] == [f"CA{index}" for index in range(5)]
    assert iso.stream.writes == 1
    iso.log.write(entry(call_sid="CA5"))  # a new timer for the next batch
    await asyncio.sleep(iso.handler.interval * 3)
    assert len(iso.lines()) == 6
    assert iso.stream.writes == 2


async def test_a_full_batch_is_written_at_once() -> None:
    iso = _isolated(max_entries=4)
    for index in range(9):
        iso.log.write(entry(call_sid=f"CA{index}"))
    assert len(iso.lines()) == 8
    assert iso.stream.writes == 2
    iso.handler.flush()
    assert len(iso.lines()) == 9


async def test_a_large_batch_is_written_in_a_few_large_writes() -> None:
    iso = _isolated()
    for index in range(512):
        iso.log.write(entry(call_sid=f"CA{index}", path="/" + "p" * 255))
    lines = iso.lines()
    assert [line.rsplit("=", 1)[1] for line in lines] == [f"CA{index}" for index in range(512)]
    assert 2 <= iso.stream.writes <= 8  # about 64 KiB a write (512 lines of ~450 characters)


def test_a_line_the_stream_cannot_encode_loses_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logging, "raiseExceptions", False)  # handleError stays quiet
    iso = _isolated()
    raw = io.BytesIO()
    iso.handler.setStream(io.TextIOWrapper(raw, encoding="ascii"))

    async def three() -> None:
        for path in ("/one", "/caf\u00e9", "/three"):
            iso.log.write(entry(path=path))

    asyncio.run(three())
    iso.handler.flush()
    written = raw.getvalue().decode().splitlines()
    assert [line.split(" ")[7] for line in written] == ["/one", "/three"]


async def test_flush_close_and_shutdown_write_what_is_kept() -> None:
    for finish in ("access_log.flush", "handler.flush", "handler.close", "logging.shutdown"):
        iso = _isolated()
        iso.log.write(entry(call_sid=finish))
        assert iso.stream.getvalue() == "", finish
        if finish == "access_log.flush":
            access_log.flush()  # any AccessLog flushes every framework handler
        elif finish == "handler.flush":
            iso.handler.flush()
        elif finish == "handler.close":
            iso.handler.close()
        else:
            logging.shutdown([weakref.ref(iso.handler)])  # what runs at exit, for this handler only
        assert iso.lines()[0].endswith(f"call_sid={finish}"), finish


async def test_another_record_on_the_handler_comes_after_the_kept_lines() -> None:
    iso = _isolated()
    iso.log.write(entry(call_sid="CA-first"))
    iso.logger.warning("second")
    iso.log.write(entry(call_sid="CA-third"))
    assert len(iso.lines()) == 2
    iso.handler.flush()
    first, second, third = iso.lines()
    assert first.endswith("call_sid=CA-first")
    assert second.endswith(f"WARNING {iso.log.name}: second")
    assert third.endswith("call_sid=CA-third")


def test_a_thread_with_no_loop_writes_at_once_even_after_a_loop_is_gone() -> None:
    iso = _isolated()

    async def in_a_loop() -> None:
        iso.log.write(entry(call_sid="CA-loop"))

    asyncio.run(in_a_loop())  # the loop closes before its timer fires
    assert iso.stream.getvalue() == ""
    iso.log.write(entry(call_sid="CA-thread"))
    assert [line.rsplit("=", 1)[1] for line in iso.lines()] == ["CA-loop", "CA-thread"]


def test_a_user_handler_or_filter_on_the_access_logger_gets_real_records() -> None:
    iso = _isolated()
    user = Collect()
    iso.logger.addHandler(user)
    iso.log.write(entry(call_sid="CA-handler"))
    assert [r.call_sid for r in user.records] == ["CA-handler"]  # type: ignore[attr-defined]
    assert iso.lines()[0].endswith("call_sid=CA-handler")  # written at once, by stdlib's path
    iso.logger.removeHandler(user)

    seen: list[logging.LogRecord] = []

    def only_errors(record: logging.LogRecord) -> bool:
        seen.append(record)
        return record.status >= 500  # type: ignore[attr-defined, no-any-return]

    iso.logger.addFilter(only_errors)
    iso.log.write(entry(call_sid="CA-dropped", status=200))
    iso.log.write(entry(call_sid="CA-kept", status=503, outcome="error"))
    iso.logger.removeFilter(only_errors)
    assert [(r.call_sid, r.outcome) for r in seen] == [  # type: ignore[attr-defined]
        ("CA-dropped", "handler"),
        ("CA-kept", "error"),
    ]
    iso.handler.addFilter(lambda record: record.call_sid != "CA-also-dropped")  # type: ignore[attr-defined]
    iso.log.write(entry(call_sid="CA-also-dropped"))
    iso.log.write(entry(call_sid="CA-last"))
    iso.handler.flush()
    assert [line.rsplit("=", 1)[1] for line in iso.lines()] == ["CA-handler", "CA-kept", "CA-last"]


async def test_a_handler_added_on_root_later_gets_real_records(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    log = AccessLog(f"jwtest{next(_names)}")  # a child of root
    stream = CountingStream()
    framework = BufferedStreamHandler(stream)
    framework.setFormatter(JsonFormatter())
    try:
        root.handlers[:] = [framework]  # pytest's handlers out of the way, for the fast path
        root.setLevel(logging.INFO)
        with monkeypatch.context() as patch:
            _no_records(patch, log)
            log.write(entry(call_sid="CA-fast"))
        assert stream.getvalue() == ""
        user = Collect()
        root.addHandler(user)
        log.write(entry(call_sid="CA-slow", verbs=("hangup",), outcome="fallback"))
        (record,) = user.records
        assert (record.call_sid, record.verbs, record.outcome) == ("CA-slow", ["hangup"], "fallback")  # type: ignore[attr-defined]
        root.removeHandler(user)
        log.logger.addFilter(lambda record: False)  # a filter on the way also turns the fast path off
        log.write(entry(call_sid="CA-filtered"))
        log.logger.filters.clear()
        assert [json.loads(line)["call_sid"] for line in stream.getvalue().splitlines()] == [
            "CA-fast",
            "CA-slow",
        ]
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        framework.close()


def test_caplog_sees_the_records_without_configure_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        access_log.write(entry(call_sid="CA-caplog", outcome="deadline"))
    (record,) = [r for r in caplog.records if r.name == ACCESS_LOGGER]
    assert record.call_sid == "CA-caplog"  # type: ignore[attr-defined]
    assert record.outcome == "deadline"  # type: ignore[attr-defined]
    assert record.getMessage().endswith("call_sid=CA-caplog")


def test_nothing_is_written_when_info_is_off() -> None:
    iso = _isolated()
    user = Collect()
    iso.logger.addHandler(user)
    iso.logger.setLevel(logging.WARNING)
    assert not iso.log.enabled()
    iso.log.write(entry())
    iso.logger.removeHandler(user)
    iso.log.write(entry())
    iso.handler.flush()
    assert user.records == []
    assert iso.stream.getvalue() == ""
    iso.logger.setLevel(logging.INFO)
    assert iso.log.enabled()


def test_another_formatter_on_the_framework_handler_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    iso = _isolated(logging.Formatter("%(levelname)s|%(hook_kind)s|%(call_sid)s|%(outcome)s|%(verbs)s"))
    iso.log.write(entry(outcome="continued"))
    assert iso.lines() == ["INFO|call|CA0123456789abcdef|continued|['say', 'gather', 'hangup']"]


def test_configure_logging_installs_the_framework_handler() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(json=False, level="INFO", force=True)
        (handler,) = root.handlers
        assert type(handler) is BufferedStreamHandler
        stream = io.StringIO()
        handler.setStream(stream)
        log = AccessLog(f"jwtest{next(_names)}")
        log.write(entry())  # no loop running: written at once
        assert stream.getvalue().endswith(
            f" INFO {log.name}: call hook POST /incoming -> 200 in 1.2 ms, "
            "verbs say,gather,hangup, call_sid=CA0123456789abcdef\n"
        )
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO jwtest\d+\.access: "
    r"call hook POST /incoming -> 200 in 1\.2 ms, verbs say,gather,hangup, call_sid=CA-(\d+)-(\d+)"
)


@pytest.mark.slow
def test_many_threads_writing_keep_every_line_whole() -> None:
    iso = _isolated(max_entries=64)
    threads_count, per_thread = 8, 3000
    stop = threading.Event()

    def writer(number: int) -> None:
        for index in range(per_thread):
            iso.log.write(entry(call_sid=f"CA-{number}-{index}"))

    def loop_writer(number: int) -> None:
        async def run() -> None:
            for index in range(per_thread):
                iso.log.write(entry(call_sid=f"CA-{number}-{index}"))
                if index % 50 == 0:
                    await asyncio.sleep(0.001)  # let timers fire now and then

        asyncio.run(run())

    def flusher() -> None:
        while not stop.is_set():
            iso.handler.flush()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_count)]
    threads.append(threading.Thread(target=loop_writer, args=(threads_count,)))
    extra = threading.Thread(target=flusher)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often: races show up
    try:
        extra.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stop.set()
        extra.join()
    finally:
        sys.setswitchinterval(interval)
    iso.handler.flush()
    lines = iso.lines()
    assert len(lines) == (threads_count + 1) * per_thread
    seen = set()
    for line in lines:
        match = LINE.fullmatch(line)
        assert match is not None, line
        seen.add(match.groups())
    assert len(seen) == len(lines)
    # Each writer's own lines come out in its order.
    for number in range(threads_count + 1):
        mine = [int(i) for n, i in (LINE.fullmatch(line).groups() for line in lines) if int(n) == number]  # type: ignore[union-attr]
        assert mine == list(range(per_thread))


def test_an_entry_is_plain_data() -> None:
    item = entry()
    assert replace(item, status=404).status == 404
    assert not hasattr(item, "__dict__")  # slotted: cheap to build per request


@pytest.mark.parametrize("formatter", [logging.Formatter(TEXT_FORMAT), JsonFormatter()], ids=["text", "json"])
def test_a_hook_line_is_timed_on_the_monotonic_clock_and_written_on_the_wall_clock(
    formatter: logging.Formatter,
) -> None:
    iso = _isolated(formatter)
    hook = iso.log.hook("call", "/incoming")
    before = time.time()
    # Sent 2.5 s ago by the monotonic clock: the line says so on the wall clock.
    hook.write(
        "POST", "/incoming", 200, 0.001, "CA-clock", None, ("say",), "handler", time.perf_counter() - 2.5
    )
    iso.handler.flush()
    (line,) = iso.lines()
    if isinstance(formatter, JsonFormatter):
        written = datetime.fromisoformat(json.loads(line)["time"]).timestamp()
    else:
        written = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S")) + int(line[20:23]) / 1000
    assert before - 2.5 - 0.05 <= written <= time.time() - 2.5 + 0.05


def test_a_hook_line_through_stdlib_logging_has_the_wall_clock_time() -> None:
    iso = _isolated()
    user = Collect()
    iso.logger.addHandler(user)  # another handler: the line becomes a record at once
    hook = iso.log.hook("action", "/menu")
    before = time.time()
    hook.write("POST", "/menu", 200, 0.001, "CA-record", None, (), "handler", time.perf_counter() - 1.0)
    (record,) = user.records
    assert before - 1.0 - 0.05 <= record.created <= time.time() - 1.0 + 0.05
    assert record.hook_kind == "action"  # type: ignore[attr-defined]
    assert record.hook_path == "/menu"  # type: ignore[attr-defined]
