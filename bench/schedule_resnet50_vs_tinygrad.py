#!/usr/bin/env python3
"""ResNet-50 compile speed: femtograd vs tinygrad, same model, same steps, same run.

Runs the C++ benchmark (BUILD/bench/schedule_resnet50) and, when `import tinygrad` works, the same
steps in tinygrad: build the forward graph of ResNet-50 at batch 64 on 224x224 images with lazy
parameters (eval-mode BatchNorm), schedule it, run codegen on every distinct kernel AST for the
CPU target (tinygrad: full_rewrite_to_sink, which applies the heuristic opts), linearize, render.
The ResNet-50 for tinygrad is defined here (torchvision's layout). Prints one table; writes
bench/results/schedule_resnet50.json.

  python3 bench/schedule_resnet50_vs_tinygrad.py [--build build] [--tinygrad-runs 1]
"""
import argparse, datetime, json, os, platform, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_femtograd(binary: str, min_time: float) -> dict:
  with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "out.json")
    subprocess.run([binary, f"--benchmark_min_time={min_time}", f"--benchmark_out={out}",
                    "--benchmark_out_format=json"], check=True, capture_output=True, text=True)
    with open(out) as f: b = json.load(f)["benchmarks"][0]
  keys = ["graph_ms", "schedule_ms", "codegen_ms", "linearize_ms", "render_ms", "total_ms", "total_cpu_ms",
          "first_total_ms", "kernels", "distinct", "uops", "iterations"]
  return {k: b[k] for k in keys if k in b}


def tinygrad_resnet50():
  from tinygrad import Tensor, nn

  class Bottleneck:
    def __init__(self, inp: int, planes: int, stride: int):
      self.conv1, self.bn1 = nn.Conv2d(inp, planes, 1, bias=False), nn.BatchNorm(planes)
      self.conv2, self.bn2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False), nn.BatchNorm(planes)
      self.conv3, self.bn3 = nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm(planes * 4)
      self.downsample = [nn.Conv2d(inp, planes * 4, 1, stride=stride, bias=False), nn.BatchNorm(planes * 4)] \
        if stride != 1 or inp != planes * 4 else []

    def __call__(self, x: Tensor) -> Tensor:
      out = self.bn1(self.conv1(x)).relu()
      out = self.bn2(self.conv2(out)).relu()
      out = self.bn3(self.conv3(out))
      return (out + (x.sequential(self.downsample) if self.downsample else x)).relu()

  class ResNet50:
    def __init__(self):
      self.conv1, self.bn1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm(64)
      self.layers, inp = [], 64
      for i, (planes, n) in enumerate([(64, 3), (128, 4), (256, 6), (512, 3)]):
        blocks = []
        for b in range(n):
          blocks.append(Bottleneck(inp, planes, 2 if (b == 0 and i > 0) else 1))
          inp = planes * 4
        self.layers.append(blocks)
      self.fc = nn.Linear(2048, 1000)

    def __call__(self, x: Tensor) -> Tensor:
      x = self.bn1(self.conv1(x)).relu().max_pool2d(kernel_size=3, stride=2, padding=1)
      for blocks in self.layers: x = x.sequential(blocks)
      return self.fc(x.mean((2, 3)))

  return ResNet50()


def run_tinygrad(batch: int, size: int) -> dict:
  from tinygrad import Tensor, Device
  from tinygrad.uop.ops import Ops
  from tinygrad.codegen import full_rewrite_to_sink, line_rewrite, pm_linearize_cleanups
  from tinygrad.codegen.late.linearizer import linearize
  model = tinygrad_resnet50()
  renderer = Device["CPU"].renderer
  r = {}
  cpu0 = time.process_time()
  t0 = time.perf_counter()
  out = model(Tensor.empty(batch, 3, size, size, device="CPU"))
  r["graph_ms"] = (time.perf_counter() - t0) * 1e3
  t0 = time.perf_counter()
  lin = out.schedule_linear()
  r["schedule_ms"] = (time.perf_counter() - t0) * 1e3
  calls = [c for c in lin.src if c.op is Ops.CALL and c.src[0].op is Ops.SINK]
  asts = list({c.src[0].key: c.src[0] for c in calls}.values())
  r["kernels"], r["distinct"] = len(calls), len(asts)
  t0 = time.perf_counter()
  sinks = [full_rewrite_to_sink(a, renderer) for a in asts]
  r["codegen_ms"] = (time.perf_counter() - t0) * 1e3
  t0 = time.perf_counter()
  progs = [line_rewrite(linearize(s), pm_linearize_cleanups) for s in sinks]  # tinygrad's do_linearize
  r["linearize_ms"] = (time.perf_counter() - t0) * 1e3
  r["total_cpu_ms"] = (time.process_time() - cpu0) * 1e3
  r["uops"] = sum(len(p) for p in progs)
  t0 = time.perf_counter()
  for p in progs: renderer.render(p)
  r["render_ms"] = (time.perf_counter() - t0) * 1e3
  r["total_ms"] = r["graph_ms"] + r["schedule_ms"] + r["codegen_ms"] + r["linearize_ms"]
  return r


def tg_version() -> str:
  try:
    from importlib.metadata import version
    return version("tinygrad")
  except Exception: return "?"


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="cmake build folder with bench/schedule_resnet50")
  ap.add_argument("--min-time", type=float, default=2.0, help="google benchmark min time (s)")
  ap.add_argument("--tinygrad-runs", type=int, default=1, help="tinygrad runs, each in a fresh process (0: skip)")
  ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "schedule_resnet50.json"))
  ap.add_argument("--tinygrad-child", action="store_true", help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.tinygrad_child:  # one cold tinygrad run in this process, as JSON on stdout
    print(json.dumps(run_tinygrad(64, 224)))
    return

  fg = run_femtograd(os.path.join(args.build, "bench", "schedule_resnet50"), args.min_time)
  tg_runs = []
  for _ in range(args.tinygrad_runs):
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--tinygrad-child"], capture_output=True, text=True,
                       env={**os.environ, "DEV": "CPU"})
    if p.returncode != 0:
      print(f"tinygrad run failed:\n{p.stderr[-2000:]}", file=sys.stderr)
      break
    tg_runs.append(json.loads(p.stdout.strip().splitlines()[-1]))
  tg = {k: statistics.median(r[k] for r in tg_runs) for k in tg_runs[0]} if tg_runs else None

  print(f"ResNet-50 forward, batch 64, 224x224, CPU target ({platform.node()}, {os.cpu_count()} cpus)")
  print(f"{'':<14}{'femtograd':>14}{'tinygrad ' + tg_version():>20}{'ratio':>10}")
  rows = [("graph", "graph_ms"), ("schedule", "schedule_ms"), ("codegen", "codegen_ms"), ("linearize", "linearize_ms"),
          ("total", "total_ms"), ("total CPU", "total_cpu_ms"), ("render", "render_ms")]
  for name, k in rows:
    t = f"{tg[k]:>17.1f} ms" if tg else f"{'-':>20}"
    ratio = f"{tg[k] / fg[k]:>9.0f}x" if tg and fg[k] > 0 else f"{'':>10}"
    print(f"{name:<14}{fg[k]:>11.2f} ms{t}{ratio}")
  print(f"{'kernels':<14}{int(fg['kernels']):>14}{int(tg['kernels']) if tg else '-':>20}")
  print(f"{'distinct ASTs':<14}{int(fg['distinct']):>14}{int(tg['distinct']) if tg else '-':>20}")
  print(f"{'UOps':<14}{int(fg['uops']):>14}{int(tg['uops']) if tg else '-':>20}")
  print(f"femtograd: mean of {int(fg['iterations'])} runs in one process; first run {fg.get('first_total_ms', 0):.1f} ms. "
        f"tinygrad: median of {len(tg_runs)} cold run(s), each in a fresh process.")
  result = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": platform.node(), "cpus": os.cpu_count(), "femtograd": fg, "tinygrad": tg,
            "tinygrad_runs": tg_runs, "tinygrad_version": tg_version()}
  os.makedirs(os.path.dirname(args.json), exist_ok=True)
  with open(args.json, "w") as f: json.dump(result, f, indent=2)
  print(f"wrote {args.json}")


if __name__ == "__main__":
  main()
