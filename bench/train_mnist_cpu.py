#!/usr/bin/env python3
"""One training step of the demo network (tinygrad's beautiful_mnist: conv5x5x32, conv5x5x32, batchnorm,
maxpool, conv3x3x64, conv3x3x64, batchnorm, maxpool, linear) on the CPU: femtograd against PyTorch CPU
in the same run, on the same batch, with the same initial weights; Adam, sparse cross entropy.

A step is: upload the batch, forward, backward, Adam update, read the loss (both frameworks do all of
it every step). Each framework warms up (femtograd compiles its kernels on the first step), then runs
--steps timed steps; the table gives the median step time and the ratio.

Usage: PYTHONPATH=python python3 bench/train_mnist_cpu.py [--bs 128] [--steps 10] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

_PKG = Path(__file__).resolve().parent.parent / "python"
if list((_PKG / "femtograd").glob("_C*.so")): sys.path.insert(0, str(_PKG))

import femtograd  # noqa: E402
from femtograd import Tensor, nn  # noqa: E402


def make_weights(rng: np.random.Generator) -> dict[str, np.ndarray]:
  """PyTorch-style uniform(+-1/sqrt(fan_in)) weights, shared by both frameworks."""
  w = {}
  def conv(name, cout, cin, k):
    b = 1 / np.sqrt(cin * k * k)
    w[name + ".weight"] = rng.uniform(-b, b, (cout, cin, k, k)).astype(np.float32)
    w[name + ".bias"] = rng.uniform(-b, b, (cout,)).astype(np.float32)
  conv("c1", 32, 1, 5); conv("c2", 32, 32, 5); conv("c3", 64, 32, 3); conv("c4", 64, 64, 3)
  b = 1 / np.sqrt(576)
  w["fc.weight"] = rng.uniform(-b, b, (10, 576)).astype(np.float32)
  w["fc.bias"] = rng.uniform(-b, b, (10,)).astype(np.float32)
  return w


class FgModel:
  def __init__(self, w):
    self.c1, self.c2 = nn.Conv2d(1, 32, 5), nn.Conv2d(32, 32, 5)
    self.c3, self.c4 = nn.Conv2d(32, 64, 3), nn.Conv2d(64, 64, 3)
    self.bn1, self.bn2, self.fc = nn.BatchNorm(32), nn.BatchNorm(64), nn.Linear(576, 10)
    for name, v in w.items():
      mod, attr = name.split(".")
      getattr(self, mod).__dict__[attr] = Tensor(v, requires_grad=True)

  def params(self):
    return [getattr(getattr(self, m), a) for m in ("c1", "c2", "c3", "c4", "fc") for a in ("weight", "bias")] + \
           [self.bn1.weight, self.bn1.bias, self.bn2.weight, self.bn2.bias]

  def __call__(self, x):
    x = self.bn1(self.c2(self.c1(x).relu()).relu()).max_pool2d()
    x = self.bn2(self.c4(self.c3(x).relu()).relu()).max_pool2d()
    return self.fc(x.flatten(1))


def run_femtograd(w, X, Y, steps):
  model = FgModel(w)
  opt = nn.optim.Adam(model.params(), lr=1e-3)
  times, losses = [], []
  with Tensor.train():
    for i in range(steps + 2):
      t0 = time.perf_counter()
      x, y = Tensor(X[i % len(X)]), Tensor(Y[i % len(Y)])
      opt.zero_grad()
      loss = model(x).sparse_categorical_crossentropy(y).backward()
      loss.realize()  # the forward (its stored values serve the backward), before the update writes the weights
      opt.step()
      losses.append(loss.item())
      times.append(time.perf_counter() - t0)
  return times, losses


def run_torch(w, X, Y, steps):
  import torch
  import torch.nn as tnn
  import torch.nn.functional as F
  torch.manual_seed(0)
  class TModel(tnn.Module):
    def __init__(self):
      super().__init__()
      self.c1, self.c2 = tnn.Conv2d(1, 32, 5), tnn.Conv2d(32, 32, 5)
      self.c3, self.c4 = tnn.Conv2d(32, 64, 3), tnn.Conv2d(64, 64, 3)
      self.bn1, self.bn2, self.fc = tnn.BatchNorm2d(32), tnn.BatchNorm2d(64), tnn.Linear(576, 10)
    def forward(self, x):
      x = F.max_pool2d(self.bn1(F.relu(self.c2(F.relu(self.c1(x))))), 2)
      x = F.max_pool2d(self.bn2(F.relu(self.c4(F.relu(self.c3(x))))), 2)
      return self.fc(x.flatten(1))
  m = TModel()
  with torch.no_grad():
    for name, v in w.items():
      mod, attr = name.split(".")
      getattr(getattr(m, mod), attr).copy_(torch.from_numpy(v))
  opt = torch.optim.Adam(m.parameters(), lr=1e-3)
  m.train()
  times, losses = [], []
  for i in range(steps + 2):
    t0 = time.perf_counter()
    x, y = torch.from_numpy(X[i % len(X)]), torch.from_numpy(Y[i % len(Y)]).long()
    opt.zero_grad()
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    opt.step()
    losses.append(loss.item())
    times.append(time.perf_counter() - t0)
  return times, losses


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument("--bs", type=int, default=128)
  ap.add_argument("--steps", type=int, default=10)
  ap.add_argument("--json")
  args = ap.parse_args()
  rng = np.random.default_rng(0)
  w = make_weights(rng)
  try:
    d = femtograd.nn.datasets.mnist(fashion=True)
    Xall = d[0].numpy().astype(np.float32) / 255.0
    Yall = d[1].numpy().astype(np.int32)
  except Exception as e:  # no dataset: random images of the same shape
    print(f"(Fashion-MNIST not found: {e}; using random images)")
    Xall = rng.random((4096, 1, 28, 28), dtype=np.float32)
    Yall = rng.integers(0, 10, 4096).astype(np.int32)
  nb = args.steps + 2
  idx = rng.integers(0, len(Xall), (nb, args.bs))
  X = [np.ascontiguousarray(Xall[i].reshape(args.bs, 1, 28, 28)) for i in idx]
  Y = [np.ascontiguousarray(Yall[i]) for i in idx]

  rows = {}
  ft, fl = run_femtograd(w, X, Y, args.steps)
  rows["femtograd"] = (ft, fl)
  try:
    import torch
    torch.set_num_threads(os.cpu_count() or 1)
    tt, tl = run_torch(w, X, Y, args.steps)
    rows[f"pytorch {torch.__version__}"] = (tt, tl)
  except ImportError:
    print("(PyTorch not installed: pip install torch)")

  print(f"train step, beautiful_mnist net, batch {args.bs}, {platform.node()}, {os.cpu_count()} cpus")
  print(f"{'framework':<22}{'first step s':>14}{'median step ms':>16}{'steps/s':>10}{'loss first/last':>18}")
  res = {}
  for name, (t, l) in rows.items():
    med = statistics.median(t[2:])
    res[name] = {"first_step_s": t[0], "median_step_ms": med * 1e3, "losses": l}
    print(f"{name:<22}{t[0]:>14.2f}{med * 1e3:>16.1f}{1 / med:>10.2f}{l[0]:>9.3f}/{l[-1]:<8.3f}")
  names = list(rows)
  if len(names) == 2:
    ratio = res[names[1]]["median_step_ms"] / res["femtograd"]["median_step_ms"]
    print(f"femtograd step time vs PyTorch: {ratio:.2f}x {'faster' if ratio >= 1 else 'slower'} "
          f"(PyTorch ms / femtograd ms)")
    res["ratio_torch_over_femtograd"] = ratio
    # same weights, same batches: the first losses agree
    print(f"first-step loss: femtograd {res['femtograd']['losses'][0]:.5f}, PyTorch {res[names[1]]['losses'][0]:.5f}")
  if args.json: Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
  main()
