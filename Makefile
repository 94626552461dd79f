# make demo  - pretrain CGH on Fashion-MNIST (CPU, ~5 min), print kNN random vs pretrained
# make test  - lint and the test suite
# make test-fast - lint and the tests not marked slow (no Runner, no subprocess)
# make study - the multi-seed study of docs/study.md, then its report (its demo-budget half
#              took 74 min on 2 cores; the 3x half about 90 min more)
# Both build .venv on first use (tools/setup_env.sh: mmcv with its CPU ops, the GPUs
# hidden from its build on a GPU machine too; docs/gpu.md has the CUDA-ops build that
# mmdet/mmseg need on GPUs); PYTHON=/path/to/python uses an existing environment instead.
VENV ?= .venv
ifeq ($(strip $(PYTHON)),)
PY := $(VENV)/bin/python
ENV_READY := $(VENV)/.ready
else
PY := $(PYTHON)
ENV_READY :=
endif
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
PYTEST_ARGS ?=

.PHONY: test test-fast lint demo study env clean

$(VENV)/.ready: requirements/runtime.txt requirements/tests.txt setup.cfg tools/setup_env.sh
	VENV=$(VENV) tools/setup_env.sh
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

demo: $(ENV_READY)
	$(PY) tools/demo.py

study: $(ENV_READY)
	$(PY) tools/dataset_converters/fashion_mnist_to_folder.py
	$(PY) tools/analysis/study.py run
	$(PY) tools/analysis/study.py report

clean:
	rm -rf work_dirs .pytest_cache .ruff_cache
