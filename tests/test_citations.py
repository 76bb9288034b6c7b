"""What the project cites is jambonz's own: its docs and sources, never notes the repository lacks.

The protocol notes the project was written from (PROTOCOL.md, PROTOCOL-WS.md, beside the
repository in ../shared) are not shipped with it: a docstring that sends a reader there sends them
nowhere. So the package, the docs, the examples, the benchmarks and the scripts cite what those
notes cite (a jambonz-feature-server file, the @jambonz/schema files, a docs page, the API
server's swagger). The tests may name the notes in prose, as where a fact was read, but never
open them: a fresh clone has no ../shared.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CITED = ("jambonz_webhooks", "docs", "examples", "example_app", "benchmarks", "scripts", ".ci")
# The notes by name, and the folder beside the repository that holds them.
NOTES = re.compile(r"PROTOCOL(?:-WS)?\.md|\.\./shared\b|/work/shared\b")


def cited_files() -> Iterator[Path]:
    """Every text file the project ships or runs, outside the tests."""
    top = (path for path in REPO.iterdir() if path.is_file())
    below = (path for root in CITED for path in (REPO / root).rglob("*") if path.is_file())
    for path in sorted([*top, *below]):
        if "__pycache__" not in path.parts:
            yield path


def notes_cited(text: str) -> list[str]:
    """``line N: text`` of each line of ``text`` that names the protocol notes."""
    return [f"line {n}: {line.strip()}" for n, line in enumerate(text.splitlines(), 1) if NOTES.search(line)]


def test_the_pattern_finds_each_way_of_citing_the_notes() -> None:
    cited = "see PROTOCOL.md, section 4\nx (PROTOCOL-WS.md §7)\n(../shared/PROTOCOL-WS.md)\n/work/shared/x"
    assert len(notes_cited(cited)) == 4
    assert notes_cited("SUBPROTOCOL = 'ws.jambonz.org'  # jambonz-feature-server, ws-requestor.js") == []


def test_the_files_read_are_the_package_docs_and_examples() -> None:
    names = {path.relative_to(REPO).as_posix() for path in cited_files()}
    assert {"README.md", "jambonz_webhooks/security.py", "docs/websocket.md", "example_app/app.py"} <= names
    assert any(name.startswith("examples/") for name in names)
    assert not any(name.startswith("tests/") for name in names)


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
def test_nothing_outside_the_tests_cites_the_protocol_notes() -> None:
    # Cite the jambonz source the notes cite instead (they name one for every fact).
    found: dict[str, list[str]] = {}
    for path in cited_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not text: nothing in it is read as a citation
        if lines := notes_cited(text):
            found[path.relative_to(REPO).as_posix()] = lines
    assert found == {}


def _docstrings(tree: ast.Module) -> set[int]:
    owners = (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, owners) and node.body and isinstance(node.body[0], ast.Expr)
    }


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
def test_no_test_opens_the_notes_or_the_folder_beside_the_repository() -> None:
    # A docstring or a comment may say where a fact was read; a string in the code is what a test
    # would open, so none may name the notes or the ../shared folder.
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name == Path(__file__).name:
            continue  # its own strings are the citations it looks for
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or id(node) in docstrings:
                continue
            if isinstance(node.value, str) and (NOTES.search(node.value) or node.value == "shared"):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []
