# The course's maintenance commands. `make book` sets everything up and builds the
# site into _build/html, slide decks included; `make test` builds it too, then runs every test.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
JOBS ?= 2

.PHONY: help setup assets notebooks slides book test test-quick clean

help:
	@echo "make book        set up .venv, execute every chapter and build the site into _build/html"
	@echo "make test        build the book, then run every test (unit, notebooks, site, browser)"
	@echo "make test-quick  unit tests of the ml4es package only"
	@echo "make notebooks   write student and instructor notebooks to _build/notebooks"
	@echo "make slides      write a reveal.js deck per chapter to _build/html/slides (after make book)"
	@echo "make clean       remove _build and the generated notebooks beside the chapters"

REMOVE_BESIDE = find book -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' -delete

# The virtual environment, with the versions pinned in requirements.txt.
$(STAMP): requirements.txt code/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e code
	touch $@

setup: $(STAMP)

# MathJax, the Jupyter widget manager, RequireJS and reveal.js, pinned and fetched
# from the npm registry, so that the site and the slide decks work with no network.
assets: $(STAMP)
	$(BIN)/python tools/bundle_assets.py

notebooks: $(STAMP)
	$(BIN)/python -m ml4es notebooks --out _build/notebooks

# The decks show the outputs of the chapters as the book build executed them, from
# _build/jupyter_execute, so they need a `make book` first.
slides: $(STAMP) assets
	$(BIN)/python -m ml4es slides

# During the build, each chapter's student notebook also sits beside its source, where the
# theme's launch buttons expect it. It is removed afterwards, even when the build fails: the
# chapters are paired with a .ipynb through jupytext, and a newer student notebook there would
# replace the chapter's solutions at the next jupytext sync.
book: $(STAMP) assets
	$(BIN)/python -m ml4es notebooks --out _build/notebooks --beside-sources
	$(BIN)/jupyter-book build . --warningiserror --keep-going; status=$$?; $(REMOVE_BESIDE); exit $$status
	$(BIN)/python -m ml4es slides

test: book
	ML4ES_BOOK_BUILT=1 $(BIN)/pytest code/tests -ra

test-quick: $(STAMP)
	$(BIN)/pytest code/tests -ra -m "not book and not slow and not browser"

clean:
	rm -rf _build
	$(REMOVE_BESIDE)
