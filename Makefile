# Two commands do all set-up on a fresh machine with Python 3.11:
#   make book   - create .venv, install, execute every lesson, build _build/html (warnings are errors)
#   make test   - the same set-up and build, then unit tests, static checks (ruff, mypy), site
#                 tests, browser tests (Chromium), the Binder-like run and nbval on every lesson,
#                 the coverage report (every bpttlab module >= 90 %), then nbval again with
#                 torch pinned to other vector kernels (AVX2, plain)
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Lessons run on one CPU thread: the budget is stated for one thread, and results stay reproducible.
export OMP_NUM_THREADS := 1
export MKL_NUM_THREADS := 1
export OPENBLAS_NUM_THREADS := 1
export PYDEVD_DISABLE_FILE_VALIDATION := 1

NBVAL := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg

.PHONY: book site site-extra test unit nbval execute portability bench clean

# `make execute LESSONS=book/x.ipynb` or `make portability LESSONS=...` limit them to some lessons.
LESSONS ?=

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Front-end files from the npm registry (package-lock.json): MathJax for the site, axe-core
# for the browser tests. The site serves MathJax from _build/extra (Sphinx's html_extra_path).
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js and npm (Debian: apt-get install nodejs npm); the book serves MathJax from npm's package so its maths renders offline" >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

site-extra: node_modules/.package-lock.json
	rm -rf _build/extra
	mkdir -p _build/extra/mathjax
	cp -R node_modules/mathjax/es5/. _build/extra/mathjax/
	cp node_modules/mathjax/LICENSE _build/extra/mathjax/LICENSE

book: $(STAMP) site-extra
	rm -rf _build/html _build/.doctrees _build/jupyter_execute
	$(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going

# Coverage of bpttlab by the tests (pytest-cov), every module at least 90 % (.ci/coverage.py).
COVERAGE := --cov=bpttlab --cov-report=json:_build/coverage.json --cov-report=

test: book
	BPTT_REQUIRE_SITE=1 BPTT_BINDER=1 $(PY) -m pytest tests book $(NBVAL) $(COVERAGE)
	$(PY) .ci/coverage.py _build/coverage.json --min 90
	$(PY) .ci/portability.py --only torch-avx2,torch-default

# The site from the lessons' stored outputs, without executing them (seconds, for work on
# pages, figures' metadata and styles); `make book` is the real build.
site: $(STAMP) site-extra
	rm -rf _build/html _build/.doctrees
	sed -e "s/execute_notebooks: force/execute_notebooks: 'off'/" -e "s|bookext: book/_ext|bookext: $(CURDIR)/book/_ext|" \
	  _config.yml > _build/site_config.yml
	$(VENV)/bin/jupyter-book build . --builder html -W -n --keep-going --config _build/site_config.yml

unit: $(STAMP)
	$(PY) -m pytest tests $(COVERAGE)
	$(PY) .ci/coverage.py _build/coverage.json --min 90

nbval: $(STAMP)
	$(PY) -m pytest book $(NBVAL)

execute: $(STAMP)
	$(PY) .ci/execute_notebooks.py $(LESSONS)

# Strict nbval under several CPU-kernel selections (see CONTRIBUTING.md); not part of CI.
portability: $(STAMP)
	$(PY) .ci/portability.py $(LESSONS)

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf _build .pytest_cache .hypothesis
