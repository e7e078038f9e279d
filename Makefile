# Set-up is idempotent: `make demo` and `make test` each install what they need.
# The extension is built without build isolation, so that it links the torch
# installed here rather than one pip would fetch into an isolated build env.
PYTHON ?= python3
# This machine's disk carries these torch builds; other machines may pin others.
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
BUILD_DEPS = scikit-build-core pybind11 nlohmann-json cmake ninja
RUN_DEPS = numpy hdrhistogram transformers segmentation-models-pytorch pyyaml pydantic pandas matplotlib kneed \
	tqdm tabulate
TEST_DEPS = pytest selenium ray botocore jsonschema
PIP = $(PYTHON) -m pip install -q --root-user-action=ignore

.PHONY: install browser demo test bench sanitize

install:
	$(PIP) $(TORCH_SPEC) $(BUILD_DEPS) $(RUN_DEPS) $(TEST_DEPS)
	$(PIP) --no-build-isolation --no-deps -e .

# The built-in default: the shipped cpu_quick sweep (resnet18, random weights,
# on the CPU), then its report.
demo: install
	rm -rf results/cpu_quick
	$(PYTHON) -m infermeter sweep cpu_quick -o results/cpu_quick
	$(PYTHON) -m infermeter report results/cpu_quick -o results/cpu_quick/report

# The report test opens the HTML page in Debian's chromium through chromedriver.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null)

test: install browser
	$(PYTHON) -m pytest -q

bench: install
	$(PYTHON) benchmarks/harness_overhead.py

# infermeter-bench under ASan+UBSan, then TSan, on small models
# (tests/sanitize/run_sanitizers.py). About 15 minutes on 2 cores, too long for
# `make test` in CI: docs/faults.md, "Sanitizers", records where it ran.
sanitize: install
	$(PYTHON) tests/sanitize/run_sanitizers.py
