"""Sphinx extension: tables generated from spikec's registries and results files at build time.

Directives (myst: ```` ```{spikec-ops} ````):

``spikec-ops``
    The op registry (:func:`spikec.ir.all_ops`): name, kind, NumPy spellings, what it computes; then the NumPy
    functions and ufuncs that accept signals.  Option ``:kind:`` keeps one kind.
``spikec-neurons``
    The neuron models (:mod:`spikec.models.neurons`): spiking or rate, parameters with defaults, state
    variables, and whether the nengo back end has a form of it (the API reference has each model's docstring).
``spikec-results``
    A measured results file (path from the repository root) as a literal block, headed by the date and the commit
    that last changed the file (from git); the file's own first lines name the machine and the command.

The tables are built from the code, so the pages can never go stale the way a pasted table does; a new op or
neuron type shows up in the next build.
"""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path
from typing import ClassVar

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

ROOT = Path(__file__).resolve().parents[2]


def _table(header: list[str], rows: list[list[nodes.Node | str]], widths: list[int]) -> nodes.table:
    """A docutils table; cells are text (rendered as inline literals when wrapped in backquotes) or nodes."""
    table = nodes.table(classes=["spikec-generated"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths:
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    head += _row(header)
    body = nodes.tbody()
    group += body
    for row in rows:
        body += _row(row)
    return table


def _row(cells: list[nodes.Node | str]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        para = nodes.paragraph()
        if isinstance(cell, nodes.Node):
            para += cell
        else:
            para += _inline(cell)
        entry += para
        row += entry
    return row


def _inline(text: str) -> list[nodes.Node]:
    """Text with `code` spans turned into literal nodes (the registry's docs and spellings use backquotes)."""
    out: list[nodes.Node] = []
    for i, part in enumerate(text.split("`")):
        if part:
            out.append(nodes.literal(part, part) if i % 2 else nodes.Text(part))
    return out


def _codes(names) -> str:
    return ", ".join(f"`{name}`" for name in names)


class OpsTable(SphinxDirective):
    """``spikec-ops``: the op registry as a table, then the accepted NumPy functions and ufuncs."""

    option_spec: ClassVar[dict] = {"kind": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        from spikec.tools.cli.ops import _supported_ufunc_names
        from spikec.trace import supported_function_names

        kind = self.options.get("kind")
        out: list[nodes.Node] = [_table(["op", "kind", "NumPy spellings", "computes"], ops_rows(kind), [12, 8, 25, 55])]
        if kind is None:
            for head, names in (("NumPy functions that accept signals: ", supported_function_names()),
                                ("ufuncs: ", _supported_ufunc_names())):
                para = nodes.paragraph()
                para += nodes.strong(head, head)
                para += _inline(_codes(names) + ".")
                out.append(para)
        return out


def ops_rows(kind: str | None = None) -> list[list[str]]:
    """One row per registered op (of ``kind``, when given): name, kind, NumPy spellings, what it computes."""
    from spikec.ir import all_ops

    ops = [op for op in all_ops().values() if kind is None or op.kind.value == kind]
    return [[f"`{op.name}`", op.kind.value, _codes(op.numpy_names), op.doc] for op in ops]


def neuron_rows() -> list[list[str]]:
    """One row per public neuron model: name, output, parameters (defaults), state, whether nengo has a form of it."""
    from spikec.backends.nengo.neurons import nengo_adapter
    from spikec.models import neurons

    rows = []
    for name in neurons.__all__:
        cls = getattr(neurons, name)
        if not (isinstance(cls, type) and issubclass(cls, neurons.NeuronType)) or cls is neurons.NeuronType:
            continue
        params = []
        for field in dataclasses.fields(cls):
            if field.default is not dataclasses.MISSING:
                params.append(f"`{field.name}={field.default!r}`")
            else:
                params.append(f"`{field.name}`")
        # Wrappers (RegularSpiking...) compute their state names from the type they wrap.
        state = cls.state_names
        state = _codes(state) if isinstance(state, tuple | list) else "its base type's"
        rows.append([
            f"`{name}`",
            "spikes" if cls.spiking else "rate",
            ", ".join(params) or "(none)",
            state or "(none)",
            "yes" if nengo_adapter.lookup(cls) is not None else "no",
        ])
    return rows


class NeuronsTable(SphinxDirective):
    """``spikec-neurons``: the neuron models of :mod:`spikec.models.neurons`."""

    def run(self) -> list[nodes.Node]:
        header = ["model", "output", "parameters (defaults)", "state", "nengo back end"]
        return [_table(header, neuron_rows(), [14, 8, 40, 20, 10])]


def results_provenance(path: Path) -> str:
    """``date, commit`` of the last commit that changed ``path`` (``not committed`` outside git history)."""
    try:
        line = subprocess.run(["git", "log", "-1", "--format=%cs, commit %h", "--", str(path)], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        line = ""
    return line or "not committed"


class ResultsFile(SphinxDirective):
    """``spikec-results PATH``: a results file as a literal block, under the date and commit that last changed it."""

    required_arguments = 1
    option_spec: ClassVar[dict] = {"lines": directives.positive_int}

    def run(self) -> list[nodes.Node]:
        path = ROOT / self.arguments[0]
        self.env.note_dependency(str(path))
        text = path.read_text()
        lines = text.splitlines()
        if "lines" in self.options:
            lines = lines[: self.options["lines"]]
        para = nodes.paragraph()
        para += nodes.literal(self.arguments[0], self.arguments[0])
        para += nodes.Text(f", committed {results_provenance(path)}; its first lines say on what machine and how:")
        block = nodes.literal_block("\n".join(lines), "\n".join(lines), language="text")
        return [para, block]


def setup(app):
    """Register the three directives."""
    app.add_directive("spikec-ops", OpsTable)
    app.add_directive("spikec-neurons", NeuronsTable)
    app.add_directive("spikec-results", ResultsFile)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
