# spikec developer commands.  `make help` lists them.
#
# Where things get installed: into the active virtual environment when
# $VIRTUAL_ENV is set, otherwise into ./.venv (created with `python3 -m venv`
# on first use).  Installing is skipped when a stamp file in that environment
# says this checkout's pyproject.toml and Makefile were already installed, so
# a second `make test` starts the tests straight away.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
ifdef VIRTUAL_ENV
VENV := $(VIRTUAL_ENV)
VENV_OWNED := no
else
VENV := $(CURDIR)/.venv
VENV_OWNED := yes
endif
PY := $(VENV)/bin/python
# Three installs, each with its own stamp: `make demo` the package with every back end but NengoDL (no
# TensorFlow); `make test` that plus NengoDL, the interop frameworks (torch CPU, snnTorch, Norse), Sphinx (the
# tests build the docs) and the test tools; `make docs` the package and Sphinx.  The nengo-dl/tf_keras pair and
# norse/nirtorch are installed with --no-deps (see pyproject.toml: [tool.spikec]).
DEMO_EXTRAS := all
TEST_EXTRAS := all,nengo-dl,interop,docs,test
DOCS_EXTRAS := all,docs
PIP_FLAGS ?= --progress-bar off
PYTEST_ARGS ?=

# One BLAS / OpenMP thread: multithreaded BLAS makes nengo's builder 4-5x
# slower on 2-core machines.  Quiet TensorFlow's C++ start-up log and never
# open plot windows.  Each can be overridden from the environment.
RUN_ENV = OMP_NUM_THREADS=$${OMP_NUM_THREADS:-1} \
	OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} \
	MKL_NUM_THREADS=$${MKL_NUM_THREADS:-1} \
	TF_CPP_MIN_LOG_LEVEL=$${TF_CPP_MIN_LOG_LEVEL:-2} \
	MPLBACKEND=$${MPLBACKEND:-Agg}

.PHONY: help install install-demo install-docs demo test test-slow test-all docs lint clean distclean

help:  ## list the targets
	@echo "spikec make targets (environment: $(VENV)):"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  make %-13s %s\n", $$1, $$2}'
	@echo "Variables: PYTEST_ARGS='-k name' (extra pytest arguments), PYTHON (interpreter for a new .venv)"

# $(call install_into_venv,NAME,EXTRAS,NODEPS): install this checkout with EXTRAS (and, when NODEPS is yes,
# the [tool.spikec] no-deps list), skipped when the stamp $(VENV)/.spikec-install-NAME says it is up to date.
define install_into_venv
	want="$$(cat pyproject.toml Makefile | sha256sum | cut -c1-16) $(CURDIR) [$(2)]"; \
	stamp="$(VENV)/.spikec-install-$(1)"; \
	if [ -x "$(PY)" ] && [ -f "$$stamp" ] && [ "$$(cat "$$stamp")" = "$$want" ]; then \
		echo "spikec: $(VENV) is up to date for '$(1)' (make clean forces a reinstall)"; exit 0; \
	fi; \
	if [ ! -x "$(PY)" ]; then \
		if [ "$(VENV_OWNED)" = no ]; then \
			echo "error: VIRTUAL_ENV=$(VENV) has no bin/python; activate a real virtual environment or unset VIRTUAL_ENV" >&2; exit 1; \
		fi; \
		if ! $(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then \
			echo "error: spikec needs Python >= 3.11 (numpy 2.4, jax 0.10); '$(PYTHON)' is $$($(PYTHON) -V 2>&1). Use make PYTHON=python3.11 ..." >&2; exit 1; \
		fi; \
		echo "spikec: creating $(VENV) with $$($(PYTHON) -V 2>&1)"; \
		$(PYTHON) -m venv "$(VENV)"; \
		"$(PY)" -m pip install $(PIP_FLAGS) -q --upgrade pip; \
	fi; \
	start=$$(date +%s); \
	echo "spikec: installing .[$(2)] into $(VENV)"; \
	"$(PY)" -m pip install $(PIP_FLAGS) -e ".[$(2)]"; \
	if [ "$(3)" = yes ]; then \
		nodeps="$$("$(PY)" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml", "rb"))["tool"]["spikec"]["no-deps"]))')"; \
		echo "spikec: installing without dependencies: $$nodeps"; \
		"$(PY)" -m pip install $(PIP_FLAGS) --no-deps $$nodeps; \
		if "$(PY)" -m pip show -q tensorflow >/dev/null 2>&1; then \
			echo "warning: $(VENV) also has the full 'tensorflow' package next to tensorflow-cpu (nengo-dl or tf_keras was once installed with its dependencies); both write the same files. To repair: $(PY) -m pip uninstall -y tensorflow && $(PY) -m pip install --force-reinstall --no-deps tensorflow-cpu==2.21.0" >&2; \
		fi; \
	fi; \
	echo "$$want" > "$$stamp"; \
	echo "spikec: installed in $$(( $$(date +%s) - start )) s"
endef

install:  ## install spikec with every back end (NengoDL and TensorFlow included) and the test tools
	@$(call install_into_venv,test,$(TEST_EXTRAS),yes)

install-demo:  ## install spikec with every back end but NengoDL (no TensorFlow)
	@$(call install_into_venv,demo,$(DEMO_EXTRAS),no)

install-docs:  ## install spikec and the documentation tools (Sphinx, myst, numpydoc, furo)
	@$(call install_into_venv,docs,$(DOCS_EXTRAS),no)

demo: install-demo  ## install (no TensorFlow), then compile and run the matrix-inversion example
	@$(RUN_ENV) "$(PY)" examples/matrix_inversion.py
	@echo "spikec: to use this environment: source $(VENV)/bin/activate (or run $(VENV)/bin/spikec, $(VENV)/bin/python)"

# pytest exit codes: 0 all passed, 1 failures, 5 nothing collected.  "Nothing
# collected" is a failure here: a green run must have run tests.
define run_pytest
	rc=0; $(RUN_ENV) "$(PY)" -m pytest -p no:nengo -q $(1) $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then \
		echo "error: pytest collected no tests (exit 5); failing on purpose" >&2; exit 1; \
	fi; \
	exit $$rc
endef

test: install  ## install, then run the default test selection (not slow)
	@$(call run_pytest,)

test-slow: install  ## install, then run only the tests marked slow
	@$(call run_pytest,-m slow)

test-all: install  ## install, then run every test, slow ones included
	@$(call run_pytest,-m "slow or not slow")

# Sphinx turns warnings into errors (-W; --keep-going lists them all before failing).
docs: install-docs  ## install, then build the documentation into docs/_build/html (warnings are errors)
	@$(RUN_ENV) "$(PY)" -m sphinx -W --keep-going -q -b html docs docs/_build/html
	@echo "spikec: documentation in docs/_build/html/index.html"

# The lint rules live in pyproject.toml: [tool.ruff] for ruff, [tool.importlinter] for the
# package layering that lint-imports checks.  Both tools are pinned here, not in an extra,
# because neither the package nor its tests need them.  Both checks run even when the first
# fails, so one `make lint` shows every problem.
RUFF_VERSION := 0.17.6
IMPORT_LINTER_VERSION := 2.17
lint: install  ## install, then check the code with ruff and the layering with lint-imports
	@"$(PY)" -m ruff --version 2>/dev/null | grep -q "$(RUFF_VERSION)" || \
		"$(PY)" -m pip install $(PIP_FLAGS) -q ruff==$(RUFF_VERSION)
	@"$(VENV)/bin/lint-imports" --version 2>/dev/null | grep -qx "import-linter $(IMPORT_LINTER_VERSION)" || \
		"$(PY)" -m pip install $(PIP_FLAGS) -q import-linter==$(IMPORT_LINTER_VERSION)
	@rc=0; "$(PY)" -m ruff check . || rc=$$?; \
	"$(VENV)/bin/lint-imports" --no-cache --no-logo || rc=$$?; \
	exit $$rc

clean:  ## remove caches and build output, and the install stamp (forces a reinstall)
	rm -rf build dist *.egg-info .pytest_cache .hypothesis docs/_build "$(VENV)"/.spikec-install-*
	find . -path ./.venv -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean  ## clean, and delete ./.venv too (not an activated VIRTUAL_ENV elsewhere)
	rm -rf "$(CURDIR)/.venv"
