# make demo  - pretrain CGH and MoCo v2 on Fashion-MNIST on the CPU, print their kNN
#              (its environment, .venv/.ready-demo, has mmcv-lite: nothing to compile)
# make test  - lint and the test suite (its environment, .venv/.ready, compiles mmcv's CPU
#              ops once, for mmdet/mmseg; it replaces mmcv-lite)
# make test-fast - lint and the tests not marked slow (no Runner, no subprocess)
# make study - the multi-seed study of docs/study.md, then its report
# Times: README.md. tools/setup_env.sh builds .venv (docs/gpu.md: the CUDA-ops build that
# mmdet/mmseg need on GPUs); PYTHON=/path/to/python uses an existing environment instead.
VENV ?= .venv
ifeq ($(strip $(PYTHON)),)
PY := $(VENV)/bin/python
ENV_READY := $(VENV)/.ready
DEMO_READY := $(VENV)/.ready-demo
else
PY := $(PYTHON)
ENV_READY :=
DEMO_READY :=
endif
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
PYTEST_ARGS ?=

.PHONY: test test-fast lint demo study env clean

$(VENV)/.ready: requirements/runtime.txt requirements/tests.txt setup.cfg tools/setup_env.sh
	VENV=$(VENV) tools/setup_env.sh
	touch $@ $(VENV)/.ready-demo

# make demo needs no compiled mmcv op: mmcv-lite, no compile (a full .venv serves too)
$(VENV)/.ready-demo: requirements/runtime.txt requirements/tests.txt setup.cfg tools/setup_env.sh
	VENV=$(VENV) tools/setup_env.sh --demo
	touch $@

env: $(ENV_READY)

lint: $(ENV_READY)
	@if $(PY) -m ruff --version >/dev/null 2>&1; then \
		$(PY) -m ruff check cgh_mm tools tests configs; \
	else echo "ruff is not installed in $(PY): lint skipped"; fi

# The tests' models are tiny: with one torch thread per process make test-fast takes 1 to 2 min
# on 2 cores, idle or shared with training runs (README); two threads contend with other work.
test test-fast: export OMP_NUM_THREADS ?= 1

test: lint
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: lint
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

demo: $(DEMO_READY)
	$(PY) tools/demo.py

study: $(ENV_READY)
	$(PY) tools/dataset_converters/fashion_mnist_to_folder.py
	$(PY) tools/analysis/study.py run
	$(PY) tools/analysis/study.py report

clean:
	rm -rf work_dirs .pytest_cache .ruff_cache
