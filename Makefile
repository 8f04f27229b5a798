# femtograd: build, test, benchmark and format from one place.
#   make test    install what is missing, configure, build (the Python module too), run every C++ and Python test
#   make demo    install what is missing (the Fashion-MNIST package too), build Release, train the demo network
#   make build   configure and build (library, tests, benchmarks)
#   make bench   build and run each bench/ executable briefly (JSON beside each: build/bench/NAME.json)
#   make format  clang-format every C++ file under femtograd/ tests/ bench/
#   make clean   remove the build folder
BUILD ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BENCH_MIN_TIME ?= 0.2
PYTHON ?= python3

.PHONY: all deps configure build test test-cpp test-python bench demo format clean

all: build

deps:
	@bash scripts/install_deps.sh

# Configures once; later runs let ninja re-run cmake when CMakeLists.txt changes.
$(BUILD)/build.ninja:
	cmake -G Ninja -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DPython_EXECUTABLE=$$($(PYTHON) -c 'import sys; print(sys.executable)')

configure: $(BUILD)/build.ninja

build: configure
	ninja -C $(BUILD) -j$(JOBS)

test: deps
	@$(MAKE) --no-print-directory build
	@$(MAKE) --no-print-directory test-cpp
	@$(MAKE) --no-print-directory test-python

test-cpp:
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

# The Python tests run on the module the build put in python/femtograd (tests/python/conftest.py puts
# python/ first on sys.path). pytest exits 5 when it collects no tests: that is success.
test-python:
	@if [ -d tests/python ]; then \
	  rc=0; $(PYTHON) -m pytest -q -p no:cacheprovider tests/python || rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest: no python tests yet"; rc=0; fi; \
	  exit $$rc; \
	else echo "pytest: no tests/python folder yet"; fi

# The main job: tinygrad's beautiful_mnist conv net trained on Fashion-MNIST on the CPU (a Release build of
# examples/beautiful_mnist.cc in $(DEMO_BUILD); DEMO_ARGS go to the program, e.g. DEMO_ARGS="--steps 100").
DEMO_BUILD ?= build-release
DEMO_ARGS ?= --target 90
demo: deps
	@[ -f $(DEMO_BUILD)/build.ninja ] || cmake -G Ninja -S . -B $(DEMO_BUILD) -DCMAKE_BUILD_TYPE=Release \
	  -DFG_TESTS=OFF -DFG_BENCH=OFF -DFG_PYTHON=OFF
	ninja -C $(DEMO_BUILD) -j$(JOBS) example_beautiful_mnist
	$(DEMO_BUILD)/examples/beautiful_mnist $(DEMO_ARGS)

bench: build
	@set -e; found=0; for b in $(BUILD)/bench/*; do \
	  [ -f "$$b" ] && [ -x "$$b" ] || continue; found=1; \
	  echo "== $$b"; "$$b" --benchmark_min_time=$(BENCH_MIN_TIME) \
	    --benchmark_out="$$b.json" --benchmark_out_format=json; \
	done; [ $$found -eq 1 ] || echo "bench: no benchmarks built"

format:
	find femtograd tests bench \( -name '*.h' -o -name '*.cc' \) -print0 | xargs -0 -r clang-format -i

clean:
	rm -rf $(BUILD)
