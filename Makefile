# Set-up is idempotent: `make demo` and `make test` each install what they need.
PYTHON ?= python3
# This machine's disk carries these torch builds; other machines may pin others.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BUILD_DEPS = scikit-build-core pybind11 nlohmann-json cmake ninja
RUN_DEPS = numpy hdrhistogram pytest

.PHONY: install demo test bench

install:
	$(PYTHON) -m pip install -q $(TORCH_SPEC) $(BUILD_DEPS) $(RUN_DEPS)
	# Without build isolation, so the extension links the torch installed above.
	$(PYTHON) -m pip install -q --no-build-isolation --no-deps -e .

demo: install
	$(PYTHON) -m infermeter demo

test: install
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) benchmarks/harness_overhead.py
