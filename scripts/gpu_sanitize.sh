#!/usr/bin/env bash
# compute-sanitizer over a representative subset of the C++ suite on DEV=CUDA (needs build-gpu/ from
# scripts/gpu_check.sh): memcheck over elementwise, reduce, index, movement, conv
# and the CUDA device tests; racecheck and synccheck over the shared-memory kernels (the staged
# matmuls and group reductions of CudaDevice.OpsMatchTheCPU). Logs go to $OUT.
set -u
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
CS=$(ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
[ -n "$CS" ] || { echo "no compute-sanitizer"; exit 1; }
export DEV=CUDA CACHEDIR=/tmp/fg-cache
run() {  # tool filter
  local t0=$(date +%s)
  timeout ${SAN_TIMEOUT:-240} "$CS" --tool "$1" --error-exitcode 99 ./build-gpu/fg_tests --gtest_brief=1 \
    --gtest_filter="$2" >"$OUT/sanitize_$1.log" 2>&1
  local rc=$?
  echo "compute-sanitizer --tool $1 --gtest_filter='$2': rc=$rc in $(( $(date +%s) - t0 )) s"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|PASSED|FAILED" "$OUT/sanitize_$1.log" | head -8
}
run memcheck "${MEMCHECK_FILTER:-TensorElementwise.*:TensorReduce.*:TensorIndex.*:TensorMovement.*:ConvPool.Conv*:CudaDevice.*}"
run racecheck "CudaDevice.OpsMatchTheCPU"
run synccheck "CudaDevice.OpsMatchTheCPU"
