# Set-up is idempotent: `make demo` and `make test` each install what they need.
# The extension is built without build isolation, so that it links the torch
# installed here rather than one pip would fetch into an isolated build env.
PYTHON ?= python3
# This machine's disk carries these torch builds; other machines may pin others.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BUILD_DEPS = scikit-build-core pybind11 nlohmann-json cmake ninja
RUN_DEPS = numpy hdrhistogram transformers segmentation-models-pytorch pytest
PIP = $(PYTHON) -m pip install -q --root-user-action=ignore

.PHONY: install demo test bench

install:
	$(PIP) $(TORCH_SPEC) $(BUILD_DEPS) $(RUN_DEPS)
	$(PIP) --no-build-isolation --no-deps -e .

demo: install
	$(PYTHON) -m infermeter demo

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) benchmarks/harness_overhead.py
