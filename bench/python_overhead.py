#!/usr/bin/env python3
"""Python overhead of femtograd: the cost of building one lazy op from Python (no compute: a graph node),
and of a small op realized end to end (schedule, cached kernel, run), next to PyTorch eager (when
installed) and numpy doing the same small op in the same run. Goal: building a lazy op <= 2 us.

Usage: PYTHONPATH=python python3 bench/python_overhead.py [--json out.json] [--min-time 0.3]
Prints a table (median of repeats, microseconds per call)."""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
import timeit
from pathlib import Path

# the in-tree package (the module CMake builds into python/femtograd) when it is there
_PKG = Path(__file__).resolve().parent.parent / "python"
if list((_PKG / "femtograd").glob("_C*.so")): sys.path.insert(0, str(_PKG))


def measure(fn, min_time: float, repeats: int = 5) -> float:
  """Median seconds per call over `repeats` loops of about min_time seconds each."""
  timeit.timeit(fn, number=1000)  # warm up (caches, allocator)
  n = 1
  while True:
    t = timeit.timeit(fn, number=n)
    if t >= min_time: break
    n = n * 2 if t > min_time / 10 else n * 10
  return statistics.median(timeit.repeat(fn, number=n, repeat=repeats)) / n


def main() -> None:
  ap = argparse.ArgumentParser()
  ap.add_argument("--json", help="write the results here as JSON")
  ap.add_argument("--min-time", type=float, default=0.3, help="seconds per timed loop")
  args = ap.parse_args()

  import numpy as np
  from femtograd import Tensor, Device, GlobalCounters, _C
  try:
    import torch
  except ImportError:
    torch = None

  rows: list[tuple[str, str, float]] = []
  def row(group, name, fn):
    rows.append((group, name, measure(fn, args.min_time) * 1e6))

  an, bn = np.random.rand(4, 4).astype(np.float32), np.random.rand(4, 4).astype(np.float32)
  a, b = Tensor(an).realize(), Tensor(bn).realize()
  ai = Tensor(np.arange(16, dtype=np.int32).reshape(4, 4)).realize()

  # ---- building lazy ops (nothing runs)
  g = "build a lazy op"
  row(g, "femtograd a + b", lambda: a + b)
  row(g, "femtograd a * b", lambda: a * b)
  row(g, "femtograd a * 2.0 (Python scalar)", lambda: a * 2.0)
  row(g, "femtograd a.relu()", lambda: a.relu())
  row(g, "femtograd a.exp()", lambda: a.exp())
  row(g, "femtograd a.reshape(16)", lambda: a.reshape(16))
  row(g, "femtograd a.permute(1, 0)", lambda: a.permute(1, 0))
  row(g, "femtograd a.sum(axis=1)", lambda: a.sum(axis=1))
  row(g, "femtograd a @ b", lambda: a @ b)
  if hasattr(Tensor, "__getitem__"): row(g, "femtograd a[1:3, ::2]", lambda: a[1:3, ::2])
  row(g, "femtograd a.shape (no op: binding floor)", lambda: a.shape)

  # ---- small ops computed end to end (kernels already compiled: the in-memory cache)
  g = "small op, computed (4x4 float32)"
  (a + b).realize()
  row(g, "femtograd (a + b).realize()", lambda: (a + b).realize())
  row(g, "femtograd (a + b).numpy()", lambda: (a + b).numpy())
  (a + b).sum().item()
  row(g, "femtograd (a + b).sum().item()", lambda: (a + b).sum().item())
  row(g, "numpy an + bn", lambda: an + bn)
  row(g, "numpy (an + bn).sum().item()", lambda: (an + bn).sum().item())
  if torch is not None:
    at, bt = torch.from_numpy(an), torch.from_numpy(bn)
    row(g, "torch eager at + bt", lambda: at + bt)
    row(g, "torch eager (at + bt).sum().item()", lambda: (at + bt).sum().item())

  # ---- report
  width = max(len(r[1]) for r in rows) + 2
  print(f"femtograd Python overhead -- {platform.node()} {platform.machine()}, Python {platform.python_version()}, "
        f"device {Device.DEFAULT}, torch {'%s' % torch.__version__ if torch else 'not installed'}, numpy {np.__version__}")
  group = None
  for grp, name, us in rows:
    if grp != group:
      print(f"\n{grp}\n{'-' * (width + 12)}")
      group = grp
    print(f"{name:<{width}}{us:9.3f} us")
  lazy = [us for grp, name, us in rows if grp == "build a lazy op" and "no op" not in name]
  print(f"\nbuilding a lazy op: median {statistics.median(lazy):.2f} us, worst {max(lazy):.2f} us (goal <= 2 us)")
  if args.json:
    with open(args.json, "w") as f:
      json.dump({"python": platform.python_version(), "machine": platform.machine(), "torch": torch.__version__ if torch else None,
                 "numpy": np.__version__, "results_us": [{"group": g_, "name": n_, "us": u_} for g_, n_, u_ in rows]}, f, indent=1)


if __name__ == "__main__":
  sys.exit(main())
