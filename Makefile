# `make lab` and `make test` each set up .venv first; re-running them on a set-up machine is quick.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
READY  := $(VENV)/.installed

# CI sets SIMLAB_OFFLINE_TESTS=1: the tests then run in a network namespace with only loopback,
# which proves the kit works offline once set up.
ifeq ($(SIMLAB_OFFLINE_TESTS),1)
OFFLINE := unshare --net -- sh -c 'ip link set lo up && exec "$$@"' offline
endif

.PHONY: setup lab test notebooks student bench assets clean

setup: $(READY)
	@$(BIN)/python -m simlab fetch --quiet mobilenet_v2 selfie_segmentation face_detection_short_range \
		dlib_face_recognition dlib_face_landmarks_5

$(READY): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

# Jupyter refuses to run as root unless told; root is common in containers and classroom VMs.
lab: setup
	$(BIN)/jupyter lab notebooks/ $(if $(filter 0,$(shell id -u)),--allow-root)

test: setup
	$(OFFLINE) $(BIN)/python -m pytest

# Re-execute every lesson in place so the committed outputs match the code.
notebooks: setup
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/0*.ipynb

# The student edition in student/: solutions replaced by
# stubs that raise NotImplementedError, hidden tests and outputs removed, by nbgrader's preprocessors.
student: setup
	$(BIN)/python -m simlab.editions student

bench: setup
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

assets: setup
	$(BIN)/python assets/build_assets.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
