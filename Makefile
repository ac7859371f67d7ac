# conflict-report: curated conflict event data -> validated event table -> parameterised
# notebooks (papermill) -> results ledger -> Quarto report (HTML site + PDF).
#
# On a fresh machine two commands do everything: `make report` and `make test`.
# Every target is a thin call to `python -m conflict_report <step>`, which decides from
# content hashes whether anything needs redoing (see README, "Rebuilds").

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Inside an active conda environment made from environment.yml, use it; otherwise create a
# project .venv from pyproject.toml once and reuse it.
ifeq ($(CONDA_DEFAULT_ENV),conflict-report)
PYTHON ?= python
ENV_READY :=
else
PYTHON ?= .venv/bin/python
ENV_READY := .venv/.installed
endif
RUN := $(PYTHON) -m conflict_report

# Inputs (see README, "Data"): a local file or a URL each; unset means "as last built", or the
# documented download default.
export UCDP_GED UCDP_GED_SHA256 UCDP_GED_VERSION UCDP_COUNTRY_YEAR BOUNDARIES_ADMIN1 BOUNDARIES_ADMIN2 BOUNDARIES_CREDIT ACLED_CSV CONFLICT_REPORT_CHUNK_ROWS
export WORKERS FRESH_KERNELS DASK_SCHEDULER QUARTO EDITIONS_DIR

.PHONY: help env data notebooks report render-check test curate-check serve bench clean edition changes

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.venv/.installed: pyproject.toml
	python3 -m venv .venv
	.venv/bin/pip install --quiet --upgrade pip
	.venv/bin/pip install --quiet -e '.[test]'
	touch $@

env: $(ENV_READY) ## create the Python environment (.venv, or use the active conda env)

data: $(ENV_READY) ## build data/processed/ (events.parquet, rejected.csv, manifest.json)
	$(RUN) data

notebooks: data ## execute every run in report/runs.yml into build/ (WORKERS=n, FRESH_KERNELS=1, DASK_SCHEDULER=addr)
	$(RUN) notebooks

# The data and notebooks steps, then the report's, in one Python process (`all`): a `make
# report` with nothing to do then takes a fraction of a second.
report: $(ENV_READY) ## make data and notebooks, then write the report's sources and render HTML + PDF into report/_output/ (needs Quarto)
	$(RUN) all

render-check: $(ENV_READY) ## check the rendered site in a browser and the PDF (needs a render)
	$(RUN) check-render

edition: notebooks ## save the current build as a published edition: make edition NAME=2026-12 (EDITIONS_DIR=...)
	@test -n "$(NAME)" || { echo "usage: make edition NAME=<edition name>, e.g. NAME=2026-12"; exit 2; }
	$(RUN) edition save "$(NAME)"

changes: notebooks ## what changed since the last saved edition (SINCE=name to pick another)
	$(RUN) changes $(if $(SINCE),--since "$(SINCE)")

curate-check: $(ENV_READY) ## validate the hand-curated files in data/curated/
	$(RUN) curate-check

test: $(ENV_READY) ## run the test suite (real data from ../shared/data, see README)
	$(RUN) curate-check
	$(PYTHON) -m pytest

PORT ?= 8000
serve: $(ENV_READY) ## serve report/_output on http://127.0.0.1:$(PORT) (PORT=n; search works when served)
	$(RUN) serve --port $(PORT)

bench: $(ENV_READY) ## run the benchmarks (minutes to hours; see benchmarks/RESULTS.md), never part of make test
	$(PYTHON) benchmarks/run.py scale
	$(PYTHON) benchmarks/run.py data --repeat 3
	$(PYTHON) benchmarks/run.py sweep --repeat 3
	$(PYTHON) benchmarks/run.py rebuild --repeat 3

clean: ## remove generated outputs (not .venv, not downloads in data/raw)
	rm -rf data/processed build report/_output report/_output.new report/_output.old report/_generated report/_variables.yml report/_inputs.yml report/.quarto report/data
