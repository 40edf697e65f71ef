"""The README's Python code blocks run, and print what the README shows.

Each ```python block of README.md runs in order in one namespace (as one reader's session would), compiled under
the file name ``example.py`` so that the source locations the graph listing prints are the README's own lines.  An
untagged ``` block that follows a python block (before the next python block) is that block's shown output and
must equal what it prints, line for line (trailing spaces aside).  The helpers are shared with tests/test_docs.py.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"^```(?P<info>[^\n`]*)\n(?P<body>.*?)^```\s*$", re.S | re.M)


@dataclass
class CodeBlock:
    """A python block, the line it starts on, and the output shown after it (None when none is shown)."""

    code: str
    line: int
    shown: str | None


def python_blocks(text: str) -> list[CodeBlock]:
    """The ```python blocks of a Markdown text, each with the untagged block that follows it, if any."""
    blocks: list[CodeBlock] = []
    for match in FENCE.finditer(text):
        info = match.group("info").strip()
        if info == "python":
            line = text.count("\n", 0, match.start()) + 2
            blocks.append(CodeBlock(match.group("body"), line, None))
        elif info == "" and blocks and blocks[-1].shown is None:
            blocks[-1].shown = match.group("body")
    return blocks


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def run_blocks(path: Path, tmp_path: Path, monkeypatch) -> int:
    """Run every python block of ``path`` in one namespace; assert each shown output.  Returns the number checked."""
    monkeypatch.chdir(tmp_path)  # anything a block writes lands in the test's folder
    namespace: dict = {"__name__": "__main__"}
    checked = 0
    for block in python_blocks(path.read_text()):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, "example.py", "exec"), namespace)
        if block.shown is not None:
            assert _lines(out.getvalue()) == _lines(block.shown), (
                f"{path.name}: the block at line {block.line} prints\n{out.getvalue()}\n"
                f"but the file shows\n{block.shown}")
            checked += 1
    return checked


def test_python_blocks_pair_with_their_shown_output():
    text = "```python\nprint(1)\n```\ntext\n```\n1\n```\n```bash\nls\n```\n```python\nx = 2\n```\n"
    blocks = python_blocks(text)
    assert [(b.code, b.shown) for b in blocks] == [("print(1)\n", "1\n"), ("x = 2\n", None)]
    assert blocks[0].line == 2


def test_readme_code_blocks_print_what_the_readme_shows(tmp_path, monkeypatch):
    assert run_blocks(ROOT / "README.md", tmp_path, monkeypatch) >= 2


def test_readme_is_short_and_has_no_history():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert not re.search(r"\bissue\b|#\d+\b|\bsession\b|\b[0-9a-f]{7,40}\b", text, re.I)


@pytest.mark.parametrize("target", ["demo", "test", "docs", "test-slow"])
def test_readme_make_targets_exist(target):
    assert re.search(rf"^{re.escape(target)}:", (ROOT / "Makefile").read_text(), re.M)
