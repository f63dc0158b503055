# The two commands of the README: `make run` and `make test`. Both build .venv when missing.
# `make run` installs the reading station (requirements.txt: no torch); `make test` everything the tests
# need (requirements-dev.txt: the training stack, the cluster and the tools as well).
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
APP_STAMP := $(VENV)/.installed-app

.PHONY: run test test-fast lint bench

define install_venv
	@command -v $(PY) >/dev/null || { echo "CXR Triage needs Python 3.11 ($(PY) not found)."; exit 1; }
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r $(1) -r requirements-build.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
endef

$(APP_STAMP): requirements.txt requirements-build.txt pyproject.toml
	$(call install_venv,requirements.txt)
	touch $(APP_STAMP)

$(STAMP): requirements.txt requirements-train.txt requirements-cluster.txt requirements-dev.txt \
		requirements-build.txt pyproject.toml
	$(call install_venv,requirements-dev.txt)
	touch $(STAMP) $(APP_STAMP)

# `make run` opens the bundled sample studies in memory (never in the study store); ARGS="gui PATH" opens
# the store and PATH instead.
ARGS ?= gui --samples
run: $(APP_STAMP)
	$(VENV)/bin/cxr-triage $(ARGS)

test: lint
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest --durations=20 $(PYTEST_ARGS)

# The unit layer alone (no PACS, cluster, viewer or end-to-end tests): a quick check while working.
test-fast: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python -m pytest tests/unit $(PYTEST_ARGS)

# Layering (inference without Qt; viewer/core without Qt or torch), style, and types.
lint: $(STAMP)
	$(VENV)/bin/ruff check inference viewer tests bench scripts
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy inference viewer/core

# One run of the speed figures in the README: throughput, Grad-CAM, start-up, peak RSS, GUI stalls.
bench: $(STAMP)
	$(VENV)/bin/python bench/inference_speed.py
	$(VENV)/bin/python bench/startup.py
	$(VENV)/bin/python bench/memory.py
	QT_QPA_PLATFORM=offscreen $(VENV)/bin/python bench/gui_stalls.py

# The installable reading station (packaging/build.sh): dist/cxr-triage_<version>_amd64.deb, the portable
# dist/cxr-triage-<version>-linux-x86_64.tar.gz and dist/SHA256SUMS, frozen with PyInstaller in its own
# venv (build/package-venv: requirements.txt + requirements-package.txt, no torch).
.PHONY: package
package:
	PY=$(PY) packaging/build.sh
