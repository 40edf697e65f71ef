"""Sphinx configuration of the spikec documentation (`make docs`: warnings are errors)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The checkout's spikec wins over an installed one, and docs/_ext holds the table directives.
sys.path[:0] = [str(HERE.parent), str(HERE / "_ext")]

import spikec

project = "spikec"
author = "the spikec authors"
copyright = "the spikec authors"
release = version = spikec.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "spikec_tables",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
# docs/design.md is a page of its own (the map of the code); README.md is not part of the site.
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

myst_enable_extensions = ["colon_fence", "deflist"]
# Links to headings (#anchors) inside and across pages.
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "none"  # the numpydoc text says what the types are
autosummary_generate = True
# Most docstrings are prose with a few numpydoc sections; an autosummary table of members is not wanted.
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()

html_theme = "furo"
html_title = f"spikec {release}"
html_static_path: list[str] = []
# The pages show figures from benchmarks/results and the examples; they are copied as images by the pages.
