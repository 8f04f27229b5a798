#!/usr/bin/env bash
# One quick device call for GPU codegen work: build (as scripts/gpu_check.sh), the CUDA and JIT C++
# tests (GTEST_FILTER), then bench/gpu.py's rows named in ONLY (default: matmul and jit). Logs go to
# $OUT. (Tile settings were compared by a temporary switch in gpu_hand_coded_opts; see
# docs/benchmarks.md.)
#   ONLY=matmul bash scripts/gpu_matmul.sh
set -u
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 CACHEDIR=/tmp/fg-cache
extra=()
[ -d .gpucarry ] && extra+=(-DGTEST_ROOT="$PWD/.gpucarry")
if [ -d .gpucarry ] && [ ! -f /usr/include/zlib.h ]; then
  extra+=(-DZLIB_ROOT="$PWD/.gpucarry"); export LD_LIBRARY_PATH="$PWD/.gpucarry/lib:${LD_LIBRARY_PATH:-}"
fi
[ -x /usr/bin/g++ ] && extra+=(-DCMAKE_CXX_COMPILER=/usr/bin/g++ -DCMAKE_C_COMPILER=/usr/bin/gcc)
t0=$(date +%s)
cmake -G Ninja -S . -B build-gpu -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFG_BENCH=OFF -DFG_EXAMPLES=OFF \
  -DPython_EXECUTABLE="$(python3 -c 'import sys; print(sys.executable)')" "${extra[@]}" >"$OUT/cmake.log" 2>&1 \
  || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C build-gpu -j"$(nproc)" >"$OUT/build.log" 2>&1 || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"
DEV=CUDA timeout 300 ./build-gpu/fg_tests --gtest_brief=1 --gtest_filter="${GTEST_FILTER:-Cuda*:TinyJit*}" >"$OUT/cpp_cuda.log" 2>&1
echo "C++ tests: rc=$?"; grep -E "PASSED|FAILED|SKIPPED|Failure|error" "$OUT/cpp_cuda.log" | head -30
timeout 240 python3 bench/gpu.py --only "${ONLY:-matmul,jit}" 2>&1 | tail -n +3 | tee -a "$OUT/bench.log"
