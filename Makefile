# `make lab`, `make test` and `make check` each set up .venv first; re-running them is quick.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# One stamp per set of extras (pyproject.toml): `student` for the lessons, `dev` for everything
# (student + test + teacher + browser + what `make assets` needs).
STUDENT := $(VENV)/.installed-student
DEV     := $(VENV)/.installed-dev
FETCH   := $(BIN)/simlab fetch --quiet mobilenet_v2 selfie_segmentation face_detection_short_range \
           dlib_face_recognition dlib_face_landmarks_5

# CI sets SIMLAB_OFFLINE_TESTS=1: the tests then run in a network namespace with only loopback,
# which proves the kit works offline once set up.
ifeq ($(SIMLAB_OFFLINE_TESTS),1)
OFFLINE := unshare --net -- sh -c 'ip link set lo up && exec "$$@"' offline
endif

.PHONY: setup lab test check lint notebooks student bench assets clean

setup: $(DEV)
	@$(FETCH)

$(VENV)/.installed-%: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$*]'
	@touch $@

# What a student needs: the kit, JupyterLab and the weights. JupyterLab opens the student edition
# in student/ (exercises without answers; the teacher's notebooks/ have them). A notebook already
# in student/ is the student's work and is never overwritten. Jupyter refuses to run as root
# unless told; root is common in containers and classroom VMs.
lab: $(STUDENT)
	@$(FETCH)
	$(BIN)/simlab student --keep student
	$(BIN)/jupyter lab student/ $(if $(filter 0,$(shell id -u)),--allow-root)

lint: $(DEV)
	$(BIN)/ruff check .

# Everything CI runs: lint, unit tests, the wheel test, every lesson (nbval), the student
# edition and the lessons in a browser.
test: setup lint
	$(OFFLINE) $(BIN)/python -m pytest

# The quick loop while developing (about a minute): lint and the unit tests; no lesson is
# executed, no wheel built, no browser started.
check: setup lint
	SIMLAB_QUICK=1 $(OFFLINE) $(BIN)/python -m pytest tests -m "not slow and not browser"

# Re-execute every lesson in place so the committed outputs match the code.
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace \
	    --ExecutePreprocessor.store_widget_state=False notebooks/0*.ipynb

# The student edition to hand out, in handout/ (rewritten each time; student/ is where `make lab`
# keeps a student's own work): solutions replaced by stubs that raise NotImplementedError, hidden
# tests and outputs removed, by nbgrader's preprocessors.
student: setup
	$(BIN)/simlab student handout

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

assets: setup
	$(BIN)/python simlab/assets/build_assets.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
