# `make lab`, `make test` and `make check` each set up .venv first; re-running them is quick.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per set of extras (pyproject.toml): `course` for the lessons, `dev` for everything
# (course + test + teacher + browser + what `make assets` needs). Both install the versions of
# constraints.txt, those the committed notebook outputs were made with.
COURSE := $(VENV)/.installed-course
DEV    := $(VENV)/.installed-dev
FETCHED := $(VENV)/.fetched
FETCH   := $(BIN)/simlab fetch --quiet mobilenet_v2 selfie_segmentation face_detection_short_range \
           dlib_face_recognition dlib_face_landmarks_5

# CI sets SIMLAB_OFFLINE_TESTS=1: the tests then run in a network namespace with only loopback,
# which proves the kit works offline once set up.
ifeq ($(SIMLAB_OFFLINE_TESTS),1)
OFFLINE := unshare --net -- sh -c 'ip link set lo up && exec "$$@"' offline
endif

.PHONY: setup lab test check lint diagrams notebooks student key bench assets constraints clean

setup: $(DEV)
	@$(FETCH)
	@touch $(FETCHED)

# `make check` fetches once (importing torch for it costs seconds of the quick loop); `make setup`
# and `make test` fetch and verify every time.
$(FETCHED): $(DEV)
	@$(FETCH)
	@touch $@

$(VENV)/.installed-%: pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$*]'
	@touch $@

# What a student needs: the kit, JupyterLab and the weights. `simlab lab` (the same command a
# student runs on Windows or macOS without make) checks the course extra, fetches the weights,
# writes the student edition in student/ (exercises without answers; the teacher's notebooks/
# have them; a notebook already in student/ is the student's work and is never overwritten) and
# starts JupyterLab there (with --allow-root as root: containers, classroom VMs).
lab: $(COURSE)
	$(BIN)/simlab lab

lint: $(DEV)
	$(BIN)/ruff check .

# Everything CI runs: lint, unit tests and doctests, the wheel test, and every lesson once: in
# JupyterLab in a browser, its checked outputs compared with the committed ones as nbval would
# (without Chromium, nbval runs the lessons instead).
# The test modules run in parallel (pytest-xdist, one worker per core; a module's tests stay
# together in one worker, so its fixtures are built once: the lessons' JupyterLab, the wheel, the
# graded class).
test: setup lint
	$(OFFLINE) $(BIN)/python -m pytest -n auto --dist loadscope

# The quick loop while developing: lint, the unit tests and the docstring examples; no lesson is
# executed, no wheel built, no browser, Dask cluster or new Python process started (those tests
# are marked slow).
check: $(FETCHED) lint
	SIMLAB_QUICK=1 $(OFFLINE) $(BIN)/python -m pytest tests -m "not slow and not browser" -n auto --dist loadscope

# Draw the lessons' schematic figures from their source (tools/diagrams/) into the notebooks.
diagrams: $(DEV)
	$(BIN)/python tools/draw_diagrams.py

# Re-execute every lesson in place so the committed outputs match the code (diagrams first).
notebooks: setup diagrams
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.store_widget_state=False notebooks/0*.ipynb

# The student edition to hand out, in handout/ (rewritten each time; student/ is where `make lab`
# keeps a student's own work): solutions replaced by stubs that raise NotImplementedError, hidden
# tests and outputs removed, by nbgrader's preprocessors.
student: setup
	$(BIN)/simlab student handout

# After editing the teacher's answer key of the multiple-choice questions (notebooks/choices.toml):
# seal it into the package (simlab/lessons/choices.json; fresh salts, so the file always changes).
key: $(DEV)
	$(BIN)/python -m simlab.teacher.answer_key notebooks/choices.toml simlab/lessons/choices.json

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

assets: setup
	$(BIN)/python simlab/assets/build_assets.py

# Refresh constraints.txt from a fresh resolve: `.[dev,bench]` installed without constraints into
# a temporary venv (newest releases; pip --isolated: PyPI, not a local index), frozen, the venv
# deleted. Then `make test` reinstalls (its stamp depends on constraints.txt) and `make notebooks`
# remakes the outputs with the new versions: review and commit them with constraints.txt.
constraints:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip --isolated install --quiet --upgrade pip; \
	"$$tmp/venv/bin/python" -m pip --isolated install --quiet -e '.[dev,bench]'; \
	{ grep '^#' constraints.txt | grep -v '^# made on '; \
	  "$$tmp/venv/bin/python" -c 'import platform as p; print("# made on", p.system(), p.machine(), \
	      "with Python", p.python_version(), "(make constraints: a fresh resolve)")'; \
	  "$$tmp/venv/bin/python" -m pip freeze --all --exclude-editable | grep -viE '^(pip|simlab)=='; \
	} > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" constraints.txt; \
	echo "constraints.txt: $$(grep -vc '^#' constraints.txt) packages (git diff constraints.txt)"

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
