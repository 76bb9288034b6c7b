"""What ``jambonz-webhooks routes`` found, and how it is printed (a table, or a JSON document)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["Finding", "HookEntry", "Level", "Reference", "RoutesReport", "format_report"]

Level = Literal["problem", "warning"]


@dataclass
class HookEntry:
    """One hook of the app, as ``routes`` lists it."""

    path: str
    kind: str
    handler: str
    methods: list[str]
    samples_run: int = 0
    """How many sample payloads the handler answered (0: not run)."""


@dataclass
class Reference:
    """A hook a verb (or a handler's source) names, and what serves it."""

    hook: str
    """The path of the hook whose answer holds the reference, or ``(fallback)``."""
    field: str
    target: str
    method: str
    status: Literal["ok", "external", "unserved", "unrouted", "invalid"]
    served_by: str | None
    found_by: list[str]
    """How it was found: ``run`` (in the answer to a sample payload), ``source`` (in the handler's code)."""


@dataclass
class Finding:
    """Something ``routes`` flags: a problem (exit status 1) or a warning."""

    level: Level
    hook: str
    handler: str
    message: str


@dataclass
class RoutesReport:
    """What ``routes`` found: the hooks, the references in their answers, and what is wrong."""

    app: str
    hooks: list[HookEntry] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    stuck_threads: int = field(default=0, repr=False)
    """Sync handlers' threads that did not return in time: a thread cannot be stopped, so the
    command does not wait for them at exit."""
    _seen: set[tuple[str, ...]] = field(default_factory=set, repr=False)

    def flag(self, level: Level, hook: str, handler: str, message: str) -> None:
        """Record a finding once, however many sample payloads lead to it."""
        key = (level, hook, message)
        if key in self._seen:
            return
        self._seen.add(key)
        (self.problems if level == "problem" else self.warnings).append(
            Finding(level, hook, handler, message)
        )

    def add_reference(self, reference: Reference) -> bool:
        """Record a reference once (merging how it was found); False if it was already known."""
        for known in self.references:
            if (known.hook, known.field, known.target, known.method) == (
                reference.hook,
                reference.field,
                reference.target,
                reference.method,
            ):
                known.found_by.extend(how for how in reference.found_by if how not in known.found_by)
                return False
        self.references.append(reference)
        return True

    def to_json(self) -> dict[str, Any]:
        """The report as a JSON document."""
        return {
            "app": self.app,
            "hooks": [asdict(hook) for hook in self.hooks],
            "references": [asdict(reference) for reference in self.references],
            "problems": [asdict(finding) for finding in self.problems],
            "warnings": [asdict(finding) for finding in self.warnings],
        }


def _table(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def format_report(report: RoutesReport, *, ran: bool, strict: bool) -> str:
    """The report as text: the hooks, the references checked, then the problems and warnings."""
    lines = [f"Hooks of {report.app}:", ""]
    rows = [("PATH", "KIND", "METHODS", "HANDLER")] + [
        (hook.path, hook.kind, ", ".join(hook.methods), hook.handler) for hook in report.hooks
    ]
    lines += _table(rows) if report.hooks else ["  (none)"]
    how = (
        "by running each call and action hook on sample payloads, and in the handlers' source"
        if ran
        else "in the handlers' source only (--no-run)"
    )
    lines += ["", f"Hook references, found {how}:", ""]
    if report.references:
        references = [("FROM", "FIELD", "TO", "STATUS", "FOUND BY")] + [
            (
                reference.hook,
                reference.field,
                reference.target,
                reference.status + (f" ({reference.served_by})" if reference.served_by else ""),
                "+".join(reference.found_by),
            )
            for reference in report.references
        ]
        lines += _table(references)
    else:
        lines.append("  (none)")
    for title, findings in (("Problems", report.problems), ("Warnings", report.warnings)):
        if findings:
            lines += ["", f"{title} ({len(findings)}):"]
            lines += [f"  {finding.hook} [{finding.handler}]: {finding.message}" for finding in findings]
    failed = bool(report.problems) or (strict and bool(report.warnings))
    summary = (
        f"{len(report.hooks)} hook(s), {len(report.problems)} problem(s), {len(report.warnings)} warning(s)"
    )
    lines += ["", summary + (": exit status 1" if failed else "")]
    return "\n".join(lines)
