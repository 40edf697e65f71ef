"""The documentation: its code runs as shown, its tables come from the registries, and the site builds.

The pages' ```python blocks run like the README's (tests/test_readme.py); the table directives of docs/_ext are
checked against the registries they read; the whole site is built with Sphinx, warnings as errors, when Sphinx is
installed (the ``docs`` extra; ``make docs`` and CI build it too).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from test_readme import python_blocks, run_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# The pages whose code is complete programs (the training page's snippets elide their data with "...").
RUNNABLE = ["getting-started.md", "guide/time-and-state.md", "guide/neurons.md"]
# Every page written by hand (the changelog page only includes CHANGELOG.md); none may talk about its own history.
OWN_PAGES = sorted(str(p.relative_to(DOCS)) for p in DOCS.glob("**/*.md")
                   if "_build" not in p.parts and p.name != "changelog.md")


def _tables_extension():
    spec = importlib.util.spec_from_file_location("spikec_tables", DOCS / "_ext" / "spikec_tables.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("page", RUNNABLE)
def test_page_code_runs_and_prints_what_the_page_shows(page, tmp_path, monkeypatch):
    assert python_blocks((DOCS / page).read_text()), f"{page} has no python block"
    run_blocks(DOCS / page, tmp_path, monkeypatch)


@pytest.mark.parametrize("page", OWN_PAGES)
def test_page_has_no_history_talk(page):
    text = (DOCS / page).read_text()
    assert text.startswith("# ")
    assert not re.search(r"\bissue\b|#\d+\b|\bsession\b|\b[0-9a-f]{7,40}\b", text, re.I), page


def test_ops_table_is_the_op_registry():
    from spikec.ir import all_ops

    ext = _tables_extension()
    rows = ext.ops_rows()
    assert [row[0].strip("`") for row in rows] == list(all_ops())
    nonlinear = ext.ops_rows("nonlinear")
    assert nonlinear and {row[1] for row in nonlinear} == {"nonlinear"}
    # Ops users asked for by their NumPy names are listed under those names.
    spellings = " ".join(row[2] for row in rows)
    for name in ("np.matmul", "np.tanh", "np.where"):
        assert f"`{name}`" in spellings


def test_neuron_table_is_every_neuron_model():
    from spikec.backends.nengo.neurons import nengo_adapter
    from spikec.models import neurons

    rows = {row[0].strip("`"): row for row in _tables_extension().neuron_rows()}
    models = {name for name in neurons.__all__ if isinstance(getattr(neurons, name), type)
              and issubclass(getattr(neurons, name), neurons.NeuronType) and name != "NeuronType"}
    assert set(rows) == models
    assert rows["LIF"][1] == "spikes" and rows["LIFRate"][1] == "rate"
    assert "`tau_rc=0.02`" in rows["LIF"][2] and "`voltage`" in rows["LIF"][3]
    for name, row in rows.items():
        assert row[4] == ("yes" if nengo_adapter.lookup(getattr(neurons, name)) else "no")


def test_every_page_is_in_a_toctree():
    index = (DOCS / "index.md").read_text()
    for pattern in ("guide/*", "getting-started", "api", "examples/index", "benchmarks/index", "design", "changelog"):
        assert f"\n{pattern}\n" in index
    for page in ("examples/index.md",):
        text = (DOCS / page).read_text()
        for md in sorted((DOCS / "examples").glob("*.md")):
            assert md.name == "index.md" or f"\n{md.stem}\n" in text


# myst-parser 5.2 still reaches Sphinx 9 attributes that Sphinx 11 will remove; not this project's warnings.
@pytest.mark.filterwarnings("ignore:.*is deprecated. Check CHANGES for Sphinx API")
def test_sphinx_build_is_clean(tmp_path):
    """The site builds with warnings as errors, and the generated tables are on their pages."""
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    pytest.importorskip("numpydoc")
    pytest.importorskip("furo")
    from sphinx.cmd.build import build_main

    from spikec.ir import all_ops

    out = tmp_path / "html"
    rc = build_main(["-W", "--keep-going", "-q", "-b", "html", "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)])
    assert rc == 0
    tracing = (out / "guide" / "tracing.html").read_text()
    for name in all_ops():
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{name}</span>" in tracing \
            or f">{name}<" in tracing, name
    assert "RefractoryLIF" in (out / "guide" / "neurons.html").read_text()
    assert "spikec.Program" in (out / "api.html").read_text()
