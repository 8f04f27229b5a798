#!/usr/bin/env bash
# One call on a GPU machine: build (build-gpu/), run the C++ and Python test suites on DEV=CUDA,
# then bench/gpu.py. Logs go to $OUT (or ./gpu-out). Optional folder .gpucarry/ (include/, lib/)
# supplies GoogleTest and zlib where the machine lacks them.
#   bash scripts/gpu_check.sh [quick]
# SKIP_CPP=1, SKIP_PY=1, SKIP_BENCH=1 leave a step out (several calls within one lease);
# GTEST_FILTER narrows the C++ tests and ONLY the bench rows (e.g. GTEST_FILTER='Cuda*:TinyJit*'
# ONLY=matmul,jit SKIP_PY=1 for a quick codegen loop).
# DEMO=1 also trains the Fashion-MNIST demo on DEV=CUDA (examples/beautiful_mnist, `make demo`'s
# settings) from FASHION_DIR (default .gpudata/fashion-mnist: carry the four IDX .gz files there).
set -u
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
QUICK=${1:-}
export PYTHONUNBUFFERED=1 CACHEDIR=/tmp/fg-cache
nvidia-smi -L 2>&1 | head -2
python3 -c 'import sys, torch, numpy, nanobind; print(sys.version.split()[0], torch.__version__, numpy.__version__)'
extra=()
[ -d .gpucarry ] && extra+=(-DGTEST_ROOT="$PWD/.gpucarry")
if [ -d .gpucarry ] && [ ! -f /usr/include/zlib.h ]; then
  extra+=(-DZLIB_ROOT="$PWD/.gpucarry"); export LD_LIBRARY_PATH="$PWD/.gpucarry/lib:${LD_LIBRARY_PATH:-}"
fi
# the system g++: a g++ that links its own static libstdc++ into the Python module crashes once numpy
# (and with it the system libstdc++) is loaded
[ -x /usr/bin/g++ ] && extra+=(-DCMAKE_CXX_COMPILER=/usr/bin/g++ -DCMAKE_C_COMPILER=/usr/bin/gcc)
t0=$(date +%s)
cmake -G Ninja -S . -B build-gpu -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFG_BENCH=OFF \
  -DPython_EXECUTABLE="$(python3 -c 'import sys; print(sys.executable)')" "${extra[@]}" >"$OUT/cmake.log" 2>&1 \
  || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C build-gpu -j"$(nproc)" >"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
if [ -z "${SKIP_CPP:-}" ]; then
t0=$(date +%s)
DEV=CUDA timeout ${CPP_TIMEOUT:-200} ./build-gpu/fg_tests --gtest_brief=1 --gtest_filter="${GTEST_FILTER:-*}" \
  >"$OUT/cpp_cuda.log" 2>&1
echo "C++ tests on DEV=CUDA: rc=$? in $(( $(date +%s) - t0 )) s"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|tests ran" "$OUT/cpp_cuda.log" | head -40
fi
if [ -z "${SKIP_PY:-}" ]; then
t0=$(date +%s)
DEV=CUDA timeout ${PY_TIMEOUT:-200} python3 -m pytest tests/python -q --timeout=120 -p no:cacheprovider -n 16 -k "not CPU" \
  >"$OUT/py_cuda.log" 2>&1
echo "Python tests on DEV=CUDA: rc=$? in $(( $(date +%s) - t0 )) s"
grep -E "op conformance|passed|failed" "$OUT/py_cuda.log" | tail -4
grep -E "^FAILED" "$OUT/py_cuda.log" | head -30
fi
if [ -n "${DEMO:-}" ]; then
t0=$(date +%s)
DEV=CUDA timeout ${DEMO_TIMEOUT:-300} ./build-gpu/examples/beautiful_mnist --target 90 \
  --data "${FASHION_DIR:-.gpudata/fashion-mnist}" >"$OUT/demo_cuda.log" 2>&1
echo "demo on DEV=CUDA: rc=$? in $(( $(date +%s) - t0 )) s"
tr '\r' '\n' <"$OUT/demo_cuda.log" | grep -v "^\[" | tail -6
fi
[ -n "${SKIP_BENCH:-}" ] && exit 0
t0=$(date +%s)
timeout ${BENCH_TIMEOUT:-300} python3 bench/gpu.py ${QUICK:+--quick} ${ONLY:+--only "$ONLY"} --json "$OUT/bench_gpu.json" 2>&1 | tee "$OUT/bench_gpu.log"
echo "bench: $(( $(date +%s) - t0 )) s"
