r"""Logging for operators: one line per hook, as text or JSON, through the standard ``logging``.

Every hook request is logged on ``jambonz_webhooks.access`` (at INFO) with its call_sid, the
hook's kind and path, the status answered, the time taken, the verbs returned, how the answer came
about (``outcome``), and jambonz's ``trace_id`` when the payload carries one. The fields are also
attributes of the log record (``record.call_sid``, ``record.duration_ms``, ...), which
:class:`JsonFormatter` writes out::

    configure_logging(json=True)   # or LOG_FORMAT=json in the environment

A line per hook is on the hot path, so the access log has its own writer, :data:`access_log`,
and each hook its own :class:`HookLog` made at registration. When an access line would reach
nothing but the framework's own :class:`BufferedStreamHandler` (what :func:`configure_logging`
installs) with no filter on the way, the request keeps a plain tuple of the line's raw fields
and the handler formats and writes the kept lines in batches, with a write per 64 KiB or so; what
is the same from line to line (the hook's part of the text, a list of verbs) is formatted once.
As soon as anything else would see the line (a handler or filter of the application's, pytest's
``caplog``, or no :func:`configure_logging` at all), each line becomes a ``LogRecord`` handled
at once by the standard ``logging``, exactly as ``logger.info`` would.

Whatever a request sent is bounded in length and, in the text of the message, has its control
characters escaped (``\n``, ``\x1b``), so a hostile call_sid or path can neither forge a log line
nor drive a terminal.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import operator
import os
import re
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any, Final, NamedTuple, TextIO

__all__ = [
    "ACCESS_LOGGER",
    "TEXT_FORMAT",
    "AccessEntry",
    "AccessLog",
    "BufferedStreamHandler",
    "HookLog",
    "JsonFormatter",
    "access_log",
    "configure_logging",
    "verb_names",
]

ACCESS_LOGGER = "jambonz_webhooks.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
"""The layout of a text line, as :func:`configure_logging` sets it."""

INFO: Final = logging.INFO

# The access line's message, as routing logged it before this writer existed.
_MESSAGE = "%s hook %s %s -> %d in %.1f ms, verbs %s, call_sid=%s"

# Bounds on what a request sent: a field longer is cut and marked with _MORE.
_MORE = "..."
_ID_MAX = 64  # call_sid, trace_id
_PATH_MAX = 256
_METHOD_MAX = 16
_VERB_MAX = 32  # one verb's name
_VERBS_MAX = 16  # verb names in a line
_OUTCOME_MAX = 32

# Attributes every LogRecord has: anything else on a record was given as ``extra``.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

# What could end or forge a line, or drive a terminal: C0, DEL, C1, the Unicode line and paragraph
# separators; and lone surrogates, which no UTF-8 stream can write (one would fail a whole batch).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# JSON escapes C0 itself; with ensure_ascii=False it leaves these raw, and line splitters such as
# str.splitlines() break on some of them.
_JSON_UNSAFE = re.compile("[\x80-\x9f\u2028\u2029\ud800-\udfff]")
_JSON_ENCODER = json.JSONEncoder(default=str, ensure_ascii=False)

_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"  # logging.Formatter.default_time_format
_MSEC_FORMAT = "%s,%03d"  # logging.Formatter.default_msec_format
_WRITE_SIZE = 64 * 1024  # characters a write, about
_STALE = 1.0  # seconds: kept entries older than this are written with the next one (a lost timer)
_TEXT, _JSON = "text", "json"


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED_ESCAPES.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape(text: str) -> str:
    # isprintable() is one C call, true for nearly every field, and false for every unsafe char.
    return text if text.isprintable() else _UNSAFE.sub(_escape_char, text)


def _json_safe(line: str) -> str:
    return line if line.isascii() else _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


def _bound(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + _MORE


class JsonFormatter(logging.Formatter):
    """One JSON object per line.

    Time, level, logger, message, the record's extras, and the exception's traceback as text
    when there is one.
    """

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return _json_safe(_JSON_ENCODER.encode(data))


@dataclass(slots=True)
class AccessEntry:
    """The raw fields of one hook's access line, built by the pipeline once per request.

    The writer may keep the entry until its batch is written: do not change it after
    :meth:`AccessLog.write`. Fields that came from the request (``method``, ``path``,
    ``call_sid``, ``trace_id``) may hold anything; the writer bounds and escapes them.
    """

    kind: str
    """The hook's kind: ``call``, ``action`` or ``status``."""
    method: str
    """The HTTP method, ``POST`` or ``GET``."""
    path: str
    """The request's path as received."""
    hook_path: str
    """The route's path template (``/menu/{step}``)."""
    status: int
    """The HTTP status answered."""
    duration: float
    """Seconds from the request to its answer."""
    call_sid: str | None
    """The payload's call_sid, once validated; None when there is none."""
    trace_id: str | None
    """jambonz's trace_id, when the payload carries one."""
    verbs: tuple[str, ...]
    """The names of the verbs answered."""
    outcome: str
    """How the answer came about: ``handler``, ``fallback``, ``deadline``, ``continued``, ``refused``,
    ``error`` (short free text)."""
    created: float = field(default_factory=time.time)
    """``time.time()`` when the answer was sent: the line's time."""


def _safe(text: str, limit: int) -> str:
    """``text`` bounded and escaped, for the message."""
    # Nearly every field is short and printable: two C calls, and it is used as it is.
    if len(text) <= limit and text.isprintable():
        return text
    return _escape(_bound(text, limit))


class _Verbs(NamedTuple):
    text: str  # for the message: bounded, escaped, joined by commas; "-" for none
    names: tuple[str, ...]  # bounded, for the record
    json: str  # the JSON array of the bounded names


# An app answers with a few lists of verbs, over and over: each is worked out once. Only lists
# that needed no cutting are kept (so the keys are small), and at most _VERBS_SEEN_MAX of them.
_VERBS_SEEN: dict[tuple[str, ...], _Verbs] = {}
_VERBS_SEEN_MAX = 1024


def _verbs(verbs: tuple[str, ...]) -> _Verbs:
    try:
        seen = _VERBS_SEEN.get(verbs)
    except TypeError:  # a list, not a tuple
        verbs = tuple(verbs)
        seen = _VERBS_SEEN.get(verbs)
    if seen is not None:
        return seen
    names = [_bound(verb, _VERB_MAX) for verb in verbs[:_VERBS_MAX]]
    if len(verbs) > _VERBS_MAX:
        names.append(_MORE)
    seen = _Verbs(
        ",".join([_escape(name) for name in names]) or "-",
        tuple(names),
        "[" + ", ".join([encode_basestring(name) for name in names]) + "]",
    )
    if len(verbs) <= _VERBS_MAX and all(len(verb) <= _VERB_MAX for verb in verbs):
        if len(_VERBS_SEEN) >= _VERBS_SEEN_MAX:
            _VERBS_SEEN.clear()
        _VERBS_SEEN[verbs] = seen
    return seen


def _message_args(entry: AccessEntry, verbs: _Verbs) -> tuple[Any, ...]:
    """The arguments of :data:`_MESSAGE`, everything from the request bounded and escaped."""
    call_sid = entry.call_sid
    return (
        entry.kind,
        _safe(entry.method, _METHOD_MAX),
        _safe(entry.path, _PATH_MAX),
        entry.status,
        entry.duration * 1000,
        verbs.text,
        None if call_sid is None else _safe(call_sid, _ID_MAX),
    )


def _bound_or_none(text: str | None, limit: int) -> str | None:
    return None if text is None else _bound(text, limit)


def _layout(formatter: logging.Formatter | None) -> str | None:
    """Which line the handler's formatter writes, when it is one the batch writer reproduces."""
    if type(formatter) is JsonFormatter:
        return _JSON
    if (
        type(formatter) is logging.Formatter
        and type(formatter._style) is logging.PercentStyle
        and formatter._style._fmt == TEXT_FORMAT
        and formatter.datefmt is None
        and formatter.converter is time.localtime  # logging.Formatter.converter = time.gmtime is common
        and formatter.default_time_format == _DATE_FORMAT
        and formatter.default_msec_format == _MSEC_FORMAT
    ):
        return _TEXT
    return None


def _failure(name: str, what: str) -> logging.LogRecord:
    """A record for ``handleError`` to describe what failed with."""
    return logging.LogRecord(name, INFO, "", 0, what, None, None)


# One access line as a request keeps it: a plain tuple (the cheapest thing to make on the hot
# path), in this order. Its hook part is the HookLog that wrote it.
_Line = tuple[
    "HookLog",
    str,  # method
    str,  # path
    int,  # status
    float,  # duration, seconds
    "str | None",  # call_sid
    "str | None",  # trace_id
    tuple[str, ...],  # verb names
    str,  # outcome
    "float | None",  # created: the wall-clock time, when the writer was given it
    float,  # at: time.perf_counter() when the answer was sent (the line's time when created is None)
]
_AT: Final = 10  # the index of at in a _Line

# How many texts of one hook's request line (per method and path) are kept formatted: a hook
# with path parameters has many paths, and they come from the requests.
_HEADS_MAX = 64

_VERB_NAME = operator.itemgetter("verb")
_MILLIS = [f"{millis:03d}" for millis in range(1000)]  # a line's milliseconds, as "%03d" writes them


def verb_names(verbs: Sequence[Any]) -> tuple[str, ...]:
    """The names of the verbs of an answer, as the access line lists them.

    A built verb is its wire dict (one C call for a list of them), else a verb model.
    """
    try:
        return tuple(map(_VERB_NAME, verbs))
    except (TypeError, KeyError):
        return tuple(
            [
                verb.get("verb", "?") if isinstance(verb, dict) else getattr(verb, "verb_name", "?")
                for verb in verbs
            ]
        )


class HookLog:
    """The access log of one hook (made once, at registration, by :meth:`AccessLog.hook`).

    What is the same on every line of the hook (its kind and path, the logger's name) is held
    here, and the text the batch writer makes of it is kept, so that a request only hands over
    what is its own.
    """

    __slots__ = ("_heads", "_json_head", "_levelname", "hook_path", "kind", "log")

    def __init__(self, log: AccessLog, kind: str, hook_path: str) -> None:
        self.log = log
        self.kind = kind
        self.hook_path = hook_path
        self._levelname = ""
        self._heads: dict[tuple[str, str], str] = {}
        self._json_head = (
            f'"hook_kind": {encode_basestring(kind)}, "hook_path": {encode_basestring(hook_path)}, '
        )

    def write(
        self,
        method: str,
        path: str,
        status: int,
        duration: float,
        call_sid: str | None,
        trace_id: str | None,
        verbs: tuple[str, ...],
        outcome: str,
        at: float,
    ) -> None:
        """Log one request's line: the hot path, no formatting here (see :class:`AccessEntry`).

        ``at`` is ``time.perf_counter()`` when the answer was sent: the line's time, turned into
        the wall clock's when the line is formatted (a loaded server pays for every clock read).
        """
        self.log._handle((self, method, path, status, duration, call_sid, trace_id, verbs, outcome, None, at))

    def text_head(self, levelname: str, method: str, path: str) -> str:
        """The text of a line between its time and its status: ``INFO <logger>: call hook POST /p -> ``."""
        if levelname != self._levelname:  # logging.addLevelName changed INFO's name
            self._heads.clear()
            self._levelname = levelname
        key = (method, path)
        head = self._heads.get(key)
        if head is None:
            head = (
                f"{levelname} {self.log.name}: {self.kind} hook "
                f"{_safe(method, _METHOD_MAX)} {_safe(path, _PATH_MAX)} -> "
            )
            if len(self._heads) < _HEADS_MAX:
                self._heads[key] = head
        return head


def _clock_offset() -> float:
    """What to add to a ``time.perf_counter()`` reading to make it ``time.time()``'s, now."""
    return time.time() - time.perf_counter()


def _entry(line: _Line, offset: float) -> AccessEntry:
    hook, method, path, status, duration, call_sid, trace_id, verbs, outcome, created, at = line
    return AccessEntry(
        hook.kind,
        method,
        path,
        hook.hook_path,
        status,
        duration,
        call_sid,
        trace_id,
        verbs,
        outcome,
        at + offset if created is None else created,
    )


# Every framework handler, for AccessLog.flush and for a forked child.
_HANDLERS: weakref.WeakSet[BufferedStreamHandler] = weakref.WeakSet()


class BufferedStreamHandler(logging.StreamHandler[TextIO]):
    """A ``StreamHandler`` that also takes raw access lines and writes them in batches.

    Records reach it as with any handler. Access lines (from :class:`AccessLog`, when this
    handler is the only one on the way) are kept raw, then formatted together and written in a
    few large writes: ``interval`` seconds after the first is kept (a timer on the running event
    loop; with no running loop, at once), when ``max_entries`` are kept, before any record this
    handler emits (so lines keep their order), and on :meth:`flush` and :meth:`close` (so
    ``logging.shutdown`` at exit writes them).

    With the formatter :func:`configure_logging` sets (:data:`TEXT_FORMAT` or
    :class:`JsonFormatter`) a batch is formatted without LogRecords, byte for byte as the
    formatter would; with any other, each line becomes a LogRecord for the formatter (its
    thread and process are then those of the writing thread).
    """

    def __init__(
        self, stream: TextIO | None = None, *, interval: float = 0.1, max_entries: int = 512
    ) -> None:
        super().__init__(stream)
        self.interval = interval
        self.max_entries = max_entries
        # The lock Handler.handle takes (an RLock), held directly: a with-statement is cheaper
        # than acquire() and release().
        lock = self.lock
        assert lock is not None
        self._lock = lock
        self._kept: list[_Line] = []
        # The loop whose timer will write what is kept; None when no timer is pending.
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        # The date and time text of the last second formatted, for text and for JSON.
        self._text_second, self._text_time = -1, ""
        self._json_second, self._json_time = -1, ""
        _HANDLERS.add(self)

    def keep(self, line: _Line) -> None:
        """Keep one access line for the next batch: the hot path, no formatting here."""
        with self._lock:
            kept = self._kept
            kept.append(line)
            if len(kept) >= self.max_entries or line[_AT] - kept[0][_AT] > _STALE:
                self._write_kept()
                return
            timer_loop = self._timer_loop
            if timer_loop is not None and not timer_loop.is_closed():
                return  # a timer will write this one with the others
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                # No timer and no loop in this thread to set one on: write at once.
                self._timer_loop = None
                self._write_kept()
                return
            self._timer_loop = loop
            loop.call_later(self.interval, self._on_timer, loop)

    def _on_timer(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            if self._timer_loop is loop:
                self._timer_loop = None
            self._write_kept()

    def emit(self, record: logging.LogRecord) -> None:
        """Write out the kept access lines, then the record, so lines keep their order."""
        if self._kept:
            with self._lock:  # already held when called from handle(): an RLock
                self._write_kept()
        super().emit(record)

    def flush(self) -> None:
        """Write out the kept access lines, then flush the stream."""
        with self._lock:
            self._write_kept()
        super().flush()

    def close(self) -> None:
        """Write out the kept access lines, then close as ``StreamHandler`` does."""
        with self._lock:
            self._write_kept()
        super().close()

    def _write_kept(self) -> None:
        """Format and write what is kept, a write per 64 KiB or so. Called with the lock held."""
        batch = self._kept
        if not batch:
            return
        self._kept = []
        lines = self._format_batch(batch)
        if not lines:
            return
        name = batch[0][0].log.name
        stream, terminator = self.stream, self.terminator
        try:
            # One write per _WRITE_SIZE characters or so: a much larger string costs more to build
            # and write than its lines do (the allocator maps and unmaps it).
            parts = sum(map(len, lines)) // _WRITE_SIZE + 1
            step = -(-len(lines) // parts)
            for start in range(0, len(lines), step):
                chunk = lines[start : start + step]
                try:
                    stream.write(terminator.join(chunk) + terminator)
                except UnicodeError:
                    # A line the stream cannot encode (the chunk was not written): the others go.
                    for line in chunk:
                        try:
                            stream.write(line + terminator)
                        except UnicodeError:
                            self.handleError(_failure(name, "an access line the stream cannot encode"))
            if hasattr(stream, "flush"):
                stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(_failure(name, f"{len(lines)} access lines not written"))

    def _format_batch(self, batch: list[_Line]) -> list[str]:
        layout = _layout(self.formatter)
        line_of = self._text_line if layout is _TEXT else self._json_line if layout is _JSON else None
        levelname = logging.getLevelName(INFO)
        # The lines' times, taken on the monotonic clock, are put on the wall clock as it is now
        # (a step of the wall clock moves the lines of the batch it falls in, by 0.1 s at most).
        offset = _clock_offset()
        lines: list[str] = []
        append = lines.append
        for line in batch:
            try:
                if line_of is not None:
                    try:
                        append(line_of(line, levelname, offset))
                        continue
                    except (TypeError, ValueError, AttributeError):
                        pass  # a field of an unexpected type: the formatter knows what to do with it
                append(self.format(line[0].log.record(_entry(line, offset))))
            except RecursionError:
                raise
            except Exception:
                self.handleError(_failure(line[0].log.name, "an access line that could not be formatted"))
        return lines

    def _text_line(self, line: _Line, levelname: str, offset: float) -> str:
        """The line ``logging.Formatter(TEXT_FORMAT)`` makes of the record of ``line``."""
        hook, method, path, status, duration, call_sid, _, verbs, _, created, at = line
        if created is None:
            created = at + offset
        second = int(created)
        if second != self._text_second:
            self._text_time = time.strftime(_DATE_FORMAT, time.localtime(second))
            self._text_second = second
        # LogRecord.msecs, formatted by "%03d": truncated, not rounded. The status as "%d" takes
        # it ("{:d}" refuses what "%d" would turn into a number: the formatter then writes it).
        return (
            f"{self._text_time},{_MILLIS[int((created - second) * 1000)]} "
            f"{hook.text_head(levelname, method, path)}{status:d} in {duration * 1000:.1f} ms, "
            f"verbs {_verbs(verbs).text}, call_sid={None if call_sid is None else _safe(call_sid, _ID_MAX)}"
        )

    def _json_line(self, line: _Line, levelname: str, offset: float) -> str:
        """The line :class:`JsonFormatter` makes of the record of ``line``, built directly."""
        hook, method, _, status, duration, call_sid, trace_id, verb_names, outcome, created, at = line
        if created is None:
            created = at + offset
        duration_ms = round(duration * 1000, 3)
        if type(status) is not int or type(duration_ms) is not float or not math.isfinite(duration_ms):
            raise TypeError("only ints and finite floats are written here as json writes them")
        # datetime.fromtimestamp rounds to the microsecond, half to even, carrying into the second.
        second = int(created)
        micros = round((created - second) * 1e6)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        if second != self._json_second:
            self._json_time = datetime.fromtimestamp(second, UTC).isoformat()[:19]
            self._json_second = second
        verbs = _verbs(verb_names)
        entry = _entry(line, offset)
        text = (
            f'{{"time": "{self._json_time}.{micros // 1000:03d}+00:00", '
            f'"level": {encode_basestring(levelname)}, "logger": {hook.log._json_name}, '
            f'"message": {encode_basestring(_MESSAGE % _message_args(entry, verbs))}, '
            f'"call_sid": {"null" if call_sid is None else encode_basestring(_bound(call_sid, _ID_MAX))}, '
            f'"trace_id": {"null" if trace_id is None else encode_basestring(_bound(trace_id, _ID_MAX))}, '
            f"{hook._json_head}"
            f'"method": {encode_basestring(_bound(method, _METHOD_MAX))}, '
            f'"status": {status!r}, "duration_ms": {duration_ms!r}, "verbs": {verbs.json}, '
            f'"outcome": {encode_basestring(_bound(outcome, _OUTCOME_MAX))}}}'
        )
        return _json_safe(text)


class AccessLog:
    """The access log writer: one line per hook request, at INFO on the logger ``name``.

    ::

        hook_log = access_log.hook("call", "/incoming")   # once, when the hook is registered
        if access_log.enabled():
            hook_log.write(
                "POST", "/incoming", 200, 0.0012, call_sid, trace_id, ("say",), "handler", time.perf_counter()
            )
    """

    def __init__(self, name: str = ACCESS_LOGGER) -> None:
        self.name = name
        self.logger = logging.getLogger(name)
        self._json_name = encode_basestring(name)
        self._hooks: dict[tuple[str, str], HookLog] = {}
        cls = type(self.logger)
        # A Logger subclass may make or route records its own way: its lines all take stdlib's path.
        self._plain = all(
            getattr(cls, method) is getattr(logging.Logger, method)
            for method in ("makeRecord", "handle", "callHandlers", "filter")
        )

    def enabled(self) -> bool:
        """Whether an INFO line on this logger is wanted at all (stdlib caches the answer)."""
        return self.logger.isEnabledFor(INFO)

    def hook(self, kind: str, hook_path: str) -> HookLog:
        """The log of the hook of this kind at this path template (one per pair)."""
        key = (kind, hook_path)
        hook = self._hooks.get(key)
        if hook is None:
            hook = self._hooks[key] = HookLog(self, kind, hook_path)
        return hook

    def write(self, entry: AccessEntry) -> None:
        """Log one hook's line: kept for a batch when only the framework's handler would see it."""
        if not self.logger.isEnabledFor(INFO):
            return
        self._handle(
            (
                self.hook(entry.kind, entry.hook_path),
                entry.method,
                entry.path,
                entry.status,
                entry.duration,
                entry.call_sid,
                entry.trace_id,
                entry.verbs,
                entry.outcome,
                entry.created,
                time.perf_counter(),
            )
        )

    def _handle(self, line: _Line) -> None:
        """Keep ``line`` for a batch when only the framework's handler would see it, else log it."""
        handler = self._sole_handler()
        if handler is None:
            self.logger.handle(self.record(_entry(line, _clock_offset())))
        else:
            handler.keep(line)

    def flush(self) -> None:
        """Write out every kept line (at shutdown; ``logging.shutdown`` does it too)."""
        for handler in list(_HANDLERS):
            handler.flush()

    def record(self, entry: AccessEntry) -> logging.LogRecord:
        """The LogRecord of ``entry``, as ``logger.info`` would make it (without finding the caller).

        Its message is the line's text, its attributes the fields: ``call_sid``, ``trace_id``,
        ``hook_kind``, ``hook_path``, ``method``, ``status``, ``duration_ms``, ``verbs`` (a
        list), ``outcome``; all bounded, none escaped (formatters of structured logs escape).
        """
        verbs = _verbs(entry.verbs)
        record = self.logger.makeRecord(
            self.name,
            INFO,
            "(unknown file)",
            0,
            _MESSAGE,
            _message_args(entry, verbs),
            None,
            "(unknown function)",
            {
                "call_sid": _bound_or_none(entry.call_sid, _ID_MAX),
                "trace_id": _bound_or_none(entry.trace_id, _ID_MAX),
                "hook_kind": entry.kind,
                "hook_path": entry.hook_path,
                "method": _bound(entry.method, _METHOD_MAX),
                "status": entry.status,
                "duration_ms": round(entry.duration * 1000, 3),
                "verbs": list(verbs.names),
                "outcome": _bound(entry.outcome, _OUTCOME_MAX),
            },
        )
        # The line's time is when the answer was sent, not when the record is made.
        created = entry.created
        record.relativeCreated += (created - record.created) * 1000
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        return record

    def _sole_handler(self) -> BufferedStreamHandler | None:
        """The framework handler when it alone would see the line, with no filter on the way.

        A handful of attribute reads, done on every write: handlers and filters may be added
        at any moment.
        """
        if not self._plain or logging.getLogRecordFactory() is not logging.LogRecord:
            return None
        found: BufferedStreamHandler | None = None
        logger: logging.Logger | None = self.logger
        while logger is not None:
            if logger.filters:
                return None
            for handler in logger.handlers:
                if type(handler) is not BufferedStreamHandler or handler.filters or found is not None:
                    return None
                found = handler
            if not logger.propagate:
                break
            logger = logger.parent
        if found is None or found.level > INFO:
            return None
        return found


access_log = AccessLog()
"""The access log the pipeline writes to."""


def _forget_kept_in_child() -> None:
    # The parent writes what it kept; the child must not write it a second time.
    for handler in list(_HANDLERS):
        handler._kept = []
        handler._timer_loop = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_kept_in_child)


def configure_logging(
    *, json: bool | None = None, level: str | int | None = None, force: bool = False
) -> None:
    """Send the app's and the framework's logs to standard error, as text or JSON lines.

    Like ``logging.basicConfig``, it does nothing when the root logger already has a handler
    (a test runner's, or the application's own), unless ``force``. The handler it installs is a
    :class:`BufferedStreamHandler`, which writes access lines in batches.

    Args:
        json: JSON lines; None reads ``LOG_FORMAT`` (``json`` or ``text``, the default).
        level: None reads ``LOG_LEVEL`` (default INFO).
        force: replace the root logger's handlers.

    """
    root = logging.getLogger()
    if root.handlers and not force:
        return
    as_json = os.environ.get("LOG_FORMAT", "text").lower() == "json" if json is None else json
    handler = BufferedStreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(TEXT_FORMAT))
    for old in root.handlers:
        if isinstance(old, BufferedStreamHandler):
            old.flush()  # what it kept is written before it goes
    root.handlers[:] = [handler]
    root.setLevel(level if level is not None else os.environ.get("LOG_LEVEL", "INFO").upper())
