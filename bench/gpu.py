"""GPU benchmark: femtograd (DEV=CUDA, generated kernels) beside PyTorch in the same run.

  PYTHONPATH=python python3 bench/gpu.py [--quick] [--json out.json]

Each row times the same computation in both on random inputs (fresh per row), after warm-up: the
femtograd side is a TinyJit-captured function (its kernels replayed, no Python graph building), the
PyTorch side eager calls; both as wall time over many calls with one synchronize at the end (so
launch overheads count on both sides), median of 3 such batches. Memory-bound rows report GB/s of
the fewest bytes the computation must move (inputs read once, outputs written once), compute-bound
rows TFLOP/s. fp32 matmul and conv run on CUDA cores on both sides (TF32 off in PyTorch).
Every row is checked against PyTorch first (max relative error printed).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
from femtograd import Context, Device, Tensor, TinyJit, dtypes  # noqa: E402

# open femtograd's devices (and its CPU thread pool) before PyTorch loads: on the H100 image, a CPU
# device first opened after `import torch` crashed (see docs/benchmarks.md)
Tensor([1.0], device="CPU").realize()
Tensor([1.0], device="CUDA").realize()
import torch  # noqa: E402

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
DEV = "CUDA"


def sync_fg(): Device[DEV].synchronize()


def sync_torch(): torch.cuda.synchronize()


def time_calls(fn, sync, target_s=0.25, min_iters=3):
  fn(); fn(); fn(); sync()  # warm-up (the JIT captures on the second call)
  t0 = time.perf_counter(); fn(); sync(); once = max(time.perf_counter() - t0, 1e-6)
  iters = max(min_iters, min(2000, int(target_s / once)))
  res = []
  for _ in range(3):
    t0 = time.perf_counter()
    for _ in range(iters): fn()
    sync()
    res.append((time.perf_counter() - t0) / iters)
  return statistics.median(res)


def to_fg(t: torch.Tensor) -> Tensor:
  if t.dtype == torch.bfloat16:  # numpy has no bfloat16: the values go over as float32 (exact)
    return Tensor(t.detach().float().cpu().numpy(), device=DEV, dtype=dtypes.bfloat16).realize()
  return Tensor(t.detach().cpu().numpy(), device=DEV).realize()


def rel_err(got: np.ndarray, want: np.ndarray) -> float:
  got, want = got.astype(np.float64).ravel(), want.astype(np.float64).ravel()
  return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


ROWS = []
ONLY: list[str] = []


def bench(name: str, size: str, fg_fn, torch_fn, inputs, bytes_moved=0, flops=0):
  if ONLY and not any(o in name for o in ONLY): return
  tin = [x.cuda() for x in inputs]
  fin = [to_fg(x) for x in inputs]
  want = torch_fn(*tin)
  jit = TinyJit(lambda *xs: fg_fn(*xs).realize())
  out = jit(*fin)
  got = (out.cast(dtypes.float32) if out.dtype == dtypes.bfloat16 else out).numpy()
  err = rel_err(got, want.detach().float().cpu().numpy())
  t_fg = time_calls(lambda: jit(*fin), sync_fg)
  t_pt = time_calls(lambda: torch_fn(*tin), sync_torch)
  unit = "TFLOP/s" if flops else "GB/s"
  work = flops * 1e-12 if flops else bytes_moved * 1e-9
  row = dict(name=name, size=size, unit=unit, fg_us=t_fg * 1e6, torch_us=t_pt * 1e6,
             fg_rate=work / t_fg, torch_rate=work / t_pt, ratio=t_pt / t_fg, rel_err=err)
  ROWS.append(row)
  print(f"{name:<14} {size:>16} {row['fg_us']:>11.1f} {row['torch_us']:>11.1f} {row['fg_rate']:>9.1f} "
        f"{row['torch_rate']:>9.1f} {unit:<8} {row['ratio']:>6.2f}  {err:.1e}", flush=True)
  del tin, fin, jit
  torch.cuda.empty_cache()


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--quick", action="store_true", help="small sizes only")
  ap.add_argument("--json", default="")
  ap.add_argument("--only", default="", help="comma-separated substrings of the row names to run")
  args = ap.parse_args()
  ONLY.extend(o for o in args.only.split(",") if o)
  torch.manual_seed(0)
  print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
  # the copy ceiling: a device-to-device copy of 1 GiB (bytes read + written)
  x = torch.empty(1 << 28, device="cuda")
  t = time_calls(lambda: x.clone(), sync_torch)
  print(f"torch copy of 1 GiB: {2 * x.numel() * 4 / t * 1e-9:.0f} GB/s (read + write)")
  del x
  print(f"{'op':<14} {'size':>16} {'fg us':>11} {'torch us':>11} {'fg rate':>9} {'torch':>9} {'unit':<8} "
        f"{'ratio':>6}  rel err")
  mb = [1, 16, 256] if args.quick else [1, 16, 256, 1024]
  for m in mb:  # elementwise chain: 2 inputs, 1 output
    n = m * (1 << 20) // 4
    a, b = torch.randn(n), torch.randn(n)
    bench("ew chain", f"{m} MB x2", lambda x, y: ((x * 1.5 + 0.5).relu() * y + x).sigmoid(),
          lambda x, y: torch.sigmoid(torch.relu(x * 1.5 + 0.5) * y + x), [a, b], bytes_moved=3 * n * 4)
  for m in mb:
    n = m * (1 << 20) // 4
    a = torch.randn(n)
    bench("sum", f"{m} MB", lambda x: x.sum(), lambda x: x.sum(), [a], bytes_moved=n * 4)
    bench("max", f"{m} MB", lambda x: x.max(), lambda x: x.max(), [a], bytes_moved=n * 4)
  for m in mb:  # rows of 4096: 1 MB to 1 GB
    n = m * (1 << 20) // 4
    rows, cols = n // 4096, 4096
    a = torch.randn(rows, cols)
    bench("softmax", f"{rows}x{cols}", lambda x: x.softmax(-1), lambda x: torch.softmax(x, -1), [a],
          bytes_moved=2 * n * 4)
    bench("layernorm", f"{rows}x{cols}", lambda x: x.layernorm(-1), lambda x: torch.nn.functional.layer_norm(x, (cols,)),
          [a], bytes_moved=2 * n * 4)
    bench("logsumexp", f"{rows}x{cols}", lambda x: x.logsumexp(-1), lambda x: torch.logsumexp(x, -1), [a],
          bytes_moved=n * 4 + rows * 4)
  # a language model's output: log-softmax and softmax over a 32000-word vocabulary (250 MB)
  a = torch.randn(2048, 32000)
  bench("log_softmax", "2048x32000", lambda x: x.log_softmax(-1), lambda x: torch.log_softmax(x, -1), [a],
        bytes_moved=2 * a.numel() * 4)
  bench("softmax", "2048x32000", lambda x: x.softmax(-1), lambda x: torch.softmax(x, -1), [a],
        bytes_moved=2 * a.numel() * 4)
  for s in ([1024, 2048] if args.quick else [1024, 2048, 4096, 8192]):
    a, b = torch.randn(s, s), torch.randn(s, s)
    bench("matmul fp32", f"{s}^3", lambda x, y: x @ y, lambda x, y: x @ y, [a, b], flops=2 * s ** 3)
  # half types: femtograd on CUDA cores (loads widened to float, float accumulators, one rounding at
  # the end); PyTorch's cuBLAS takes the tensor cores, so the ratio is CUDA cores against tensor cores
  for name, dt in (("matmul fp16", torch.float16), ("matmul bf16", torch.bfloat16)):
    for s in ([1024, 2048] if args.quick else [1024, 2048, 4096, 8192]):
      a, b = torch.randn(s, s).to(dt), torch.randn(s, s).to(dt)
      bench(name, f"{s}^3", lambda x, y: x @ y, lambda x, y: x @ y, [a, b], flops=2 * s ** 3)
  # ResNet-50's 3x3 conv of stage 1: (32, 64, 56, 56) * (64, 64, 3, 3), padding 1
  x, w = torch.randn(32, 64, 56, 56), torch.randn(64, 64, 3, 3) * 0.05
  bench("conv2d 3x3", "32x64x56x56", lambda x, w: x.conv2d(w, padding=1),
        lambda x, w: torch.nn.functional.conv2d(x, w, padding=1), [x, w], flops=2 * 32 * 64 * 56 * 56 * 64 * 9)
  # later ResNet-50 stages: 3x3 at 28 and 14, a 1x1 expansion, a strided 3x3
  for (n, ci, co, hw, k, st) in ([] if args.quick else [(32, 128, 128, 28, 3, 1), (32, 256, 256, 14, 3, 1),
                                                       (32, 64, 256, 56, 1, 1), (32, 128, 128, 56, 3, 2)]):
    x, w = torch.randn(n, ci, hw, hw), torch.randn(co, ci, k, k) * 0.05
    ho = (hw + 2 * (k // 2) - k) // st + 1
    bench(f"conv2d {k}x{k}" + (f" s{st}" if st > 1 else ""), f"{n}x{ci}x{hw}x{hw}>{co}",
          lambda x, w, k=k, st=st: x.conv2d(w, padding=k // 2, stride=st),
          lambda x, w, k=k, st=st: torch.nn.functional.conv2d(x, w, padding=k // 2, stride=st), [x, w],
          flops=2 * n * co * ho * ho * ci * k * k)
  # TinyJit replay of many small kernels: one CUDA graph launch (JIT=1) against one launch per
  # kernel (JIT=2); PyTorch eager launches each op
  x, w = torch.randn(64, 64), torch.randn(64, 64) * 0.2
  def chain(x, w):
    for _ in range(16): x = (x @ w).relu() + x
    return x
  bench("jit 16 kernels", "64^3 graph", chain, chain, [x, w], flops=16 * 2 * 64 ** 3)
  with Context(JIT=2):
    bench("jit 16 kernels", "64^3 no graph", chain, chain, [x, w], flops=16 * 2 * 64 ** 3)
  x = torch.randn(1024)
  def tiny(x, contig):  # 32 kernels of 1024 elements: launch cost only
    for _ in range(32): x = contig(x * 1.0001 + 0.5)
    return x
  fg_tiny, pt_tiny = (lambda x: tiny(x, lambda t: t.contiguous())), (lambda x: tiny(x, lambda t: t))
  bench("jit 32 kernels", "4 KB graph", fg_tiny, pt_tiny, [x], bytes_moved=32 * 2 * 4096)
  with Context(JIT=2):
    bench("jit 32 kernels", "4 KB no graph", fg_tiny, pt_tiny, [x], bytes_moved=32 * 2 * 4096)
  overlap = copy_overlap() if not ONLY or any(o in "copy overlap" for o in ONLY) else None
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(device=torch.cuda.get_device_name(), rows=ROWS, copy_overlap=overlap), f, indent=1)


def copy_overlap(mb=256, kernels=32):
  """Host-to-device upload beside compute: `kernels` elementwise kernels over 256 MB are queued, then
  `mb` MB are uploaded; with the copy on its own stream the two overlap, and both take about as long
  as the longer one. femtograd uploads from a numpy array (pageable memory, through its pinned staging
  buffers on the copy stream); PyTorch from pinned memory with non_blocking=True on a side stream
  (its fastest path; from pageable memory its copy does not overlap)."""
  n, big = mb * (1 << 20) // 4, 1 << 26
  host = np.random.rand(n).astype(np.float32)
  a, b = to_fg(torch.randn(big)), to_fg(torch.randn(big))
  jit = TinyJit(lambda x, y: ((x * 1.5 + 0.5).relu() * y + x).sigmoid().realize())
  def fg_compute():
    for _ in range(kernels): jit(a, b)
  def fg_upload(): Tensor(host, device=DEV).realize()
  ta, tb = torch.randn(big, device="cuda"), torch.randn(big, device="cuda")
  pinned, side = torch.from_numpy(host).pin_memory(), torch.cuda.Stream()
  def pt_compute():
    for _ in range(kernels): torch.sigmoid(torch.relu(ta * 1.5 + 0.5) * tb + ta)
  def pt_upload():
    with torch.cuda.stream(side): pinned.to("cuda", non_blocking=True)
  res = {}
  for who, compute, upload, sync in (("femtograd", fg_compute, fg_upload, sync_fg),
                                     ("PyTorch", pt_compute, pt_upload, sync_torch)):
    def both():
      compute(); upload()
    t = [time_calls(f, sync, target_s=0.5) * 1e3 for f in (compute, upload, both)]
    hidden = (t[0] + t[1] - t[2]) / min(t[0], t[1])
    res[who] = dict(compute_ms=t[0], upload_ms=t[1], both_ms=t[2], overlap=hidden)
    print(f"copy overlap {who:<10} compute {t[0]:6.2f} ms, upload of {mb} MB {t[1]:6.2f} ms "
          f"({mb / 1024 / t[1] * 1e3:.1f} GB/s), both {t[2]:6.2f} ms: {100 * hidden:.0f}% of the shorter hidden",
          flush=True)
  return res


if __name__ == "__main__":
  main()
