#!/usr/bin/env python3
"""Symbolic simplification throughput: femtograd vs tinygrad on the same index expressions.

Runs the C++ benchmark (build/bench/symbolic), which also dumps its expression set; rebuilds the
same expressions with tinygrad's UOp API when `import tinygrad` works and times tinygrad's
simplify on them; prints one table and writes bench/results/symbolic.json.

  python3 bench/symbolic_vs_tinygrad.py [--build build] [--repeats 5]

Note: femtograd's // and % truncate (C), tinygrad's // and % floor (Python); the benchmark's
numerators are all >= 0, where the two agree.
"""
import argparse, datetime, json, os, platform, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_cpp(binary: str, dump: str, min_time: float, repeats: int) -> dict:
  """per benchmark: the best repetition (highest rate), with the median rate under median_rate"""
  out = subprocess.run([binary, "--dump", dump, "--benchmark_format=json", f"--benchmark_min_time={min_time}",
                        f"--benchmark_repetitions={repeats}"], check=True, capture_output=True, text=True)
  runs: dict = {}
  for b in json.loads(out.stdout)["benchmarks"]:
    if b.get("run_type", "iteration") == "iteration": runs.setdefault(b["run_name"], []).append(b)
  best = {}
  for name, rs in runs.items():
    best[name] = dict(max(rs, key=lambda r: r["items_per_second"]))
    best[name]["median_rate"] = statistics.median(r["items_per_second"] for r in rs)
  return best


def tg_version() -> str:
  try:
    from importlib.metadata import version
    return version("tinygrad")
  except Exception: return "?"


def read_dump(path: str):
  nodes, roots = [], []
  with open(path) as f:
    for line in f:
      if line.startswith("#"): continue
      parts = line.split()
      if parts[0] == "expr": roots.append(int(parts[1]))
      else: nodes.append(parts[1:])
  return nodes, roots


def build_tinygrad(nodes, roots):
  from tinygrad.uop.ops import UOp, Ops
  from tinygrad.dtype import dtypes
  dt = {"index": dtypes.weakint, "bool": dtypes.bool, "int32": dtypes.int32, "int64": dtypes.int64}
  ops = {"ADD": Ops.ADD, "MUL": Ops.MUL, "IDIV": Ops.FLOORDIV, "MOD": Ops.FLOORMOD, "MAX": Ops.MAX, "CMPLT": Ops.CMPLT,
         "CMPNE": Ops.CMPNE, "CMPEQ": Ops.CMPEQ, "AND": Ops.AND, "OR": Ops.OR, "XOR": Ops.XOR, "WHERE": Ops.WHERE}
  built = []
  for op, dtype, *rest in nodes:
    if op == "CONST":
      v = rest[0]
      u = UOp.const(v == "True" if dtype == "bool" else int(v), dt[dtype])
    elif op == "DEFINE_VAR": u = UOp.variable(rest[0], int(rest[1]), int(rest[2]))
    elif op == "RANGE": u = UOp.range(built[int(rest[1])], int(rest[0]))
    elif op == "SPECIAL": u = UOp.special(built[int(rest[1])], rest[0])
    elif op in ops:
      src = [built[int(s)] for s in rest]
      u = src[0].alu(ops[op], *src[1:], dtype=dt[dtype])
    else: raise RuntimeError(f"no tinygrad form for {op}")
    built.append(u)
  return [built[r] for r in roots]


def time_tinygrad(exprs, repeats: int):
  times = []
  for _ in range(repeats):
    t0 = time.process_time()  # CPU time, like google benchmark's rates on the C++ side
    for e in exprs: e.simplify()
    times.append(time.process_time() - t0)
  return times


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="cmake build folder with bench/symbolic")
  ap.add_argument("--repeats", type=int, default=5,
                  help="repetitions on both sides; the best is the headline (a shared machine only slows runs down), the median is also kept")
  ap.add_argument("--min-time", type=float, default=0.5, help="google benchmark min time per benchmark (s)")
  ap.add_argument("--json", default=os.path.join(ROOT, "bench", "results", "symbolic.json"))
  args = ap.parse_args()

  binary = os.path.join(args.build, "bench", "symbolic")
  if not os.path.exists(binary): sys.exit(f"{binary} not found: build with cmake -DFG_BENCH=ON first")
  with tempfile.TemporaryDirectory() as tmp:
    dump = os.path.join(tmp, "exprs.txt")
    cpp = run_cpp(binary, dump, args.min_time, args.repeats)
    nodes, roots = read_dump(dump)

  rw = cpp["BM_SymbolicRewrite"]
  n_exprs, n_nodes = int(rw["exprs"]), int(rw["nodes_in"])
  fg_rate = rw["items_per_second"]
  result = {
    "date": datetime.date.today().isoformat(), "machine": platform.node(), "cpu": platform.processor() or platform.machine(),
    "load_average": os.getloadavg()[0], "repeats": args.repeats,
    "expressions": n_exprs, "nodes": n_nodes, "nodes_out_femtograd": int(rw["nodes_out"]),
    "femtograd": {
      "intern_miss_nodes_per_s": cpp["BM_InternMiss"]["items_per_second"],
      "intern_hit_nodes_per_s": cpp["BM_InternHit"]["items_per_second"],
      "rewrite_nodes_per_s": fg_rate,
      "rewrite_nodes_per_s_median": rw["median_rate"],
      "build_and_rewrite_nodes_per_s": cpp["BM_BuildAndSimplify"]["items_per_second"],
      "rewrite_results_alive_nodes_per_s": cpp["BM_SymbolicRewriteWarm"]["items_per_second"],
    },
  }

  tg_rate = None
  try:
    import tinygrad  # noqa: F401
    have_tinygrad = True
  except ImportError:
    have_tinygrad = False
  if have_tinygrad:
    exprs = build_tinygrad(nodes, roots)
    first = time_tinygrad(exprs, 1)[0]  # first run: tinygrad fills its caches
    times = time_tinygrad(exprs, args.repeats)
    tg_rate = n_nodes / min(times)
    nodes_out = sum(len(e.simplify().toposort()) for e in exprs)
    result["tinygrad"] = {"version": tg_version(), "rewrite_nodes_per_s": tg_rate,
                          "rewrite_nodes_per_s_median": n_nodes / statistics.median(times),
                          "first_run_nodes_per_s": n_nodes / first, "nodes_out": nodes_out}
    result["ratio"] = fg_rate / tg_rate
    result["ratio_median"] = rw["median_rate"] / result["tinygrad"]["rewrite_nodes_per_s_median"]
    result["ratio_cold"] = fg_rate / result["tinygrad"]["first_run_nodes_per_s"]

  print(f"symbolic rewrite on {n_exprs} index expressions, {n_nodes} nodes (summed per expression)")
  print(f"{'':28s}{'nodes/s':>14s}")
  print(f"{'femtograd intern (miss)':28s}{result['femtograd']['intern_miss_nodes_per_s']:14.3e}")
  print(f"{'femtograd intern (hit)':28s}{result['femtograd']['intern_hit_nodes_per_s']:14.3e}")
  print(f"{'femtograd build+simplify':28s}{result['femtograd']['build_and_rewrite_nodes_per_s']:14.3e}")
  print()
  hdr = f"{'expressions':>12s}{'nodes':>9s}{'femtograd nodes/s':>20s}{'tinygrad nodes/s':>19s}{'ratio':>9s}"
  print(hdr)
  tg = f"{tg_rate:19.3e}" if tg_rate else f"{'(no tinygrad)':>19s}"
  ratio = f"{fg_rate / tg_rate:8.1f}x" if tg_rate else f"{'-':>9s}"
  print(f"{n_exprs:12d}{n_nodes:9d}{fg_rate:20.3e}{tg}{ratio}")
  if tg_rate:
    print(f"(best of {args.repeats} on each side; medians: femtograd {rw['median_rate']:.3e}, tinygrad "
          f"{result['tinygrad']['rewrite_nodes_per_s_median']:.3e}, ratio {result['ratio_median']:.1f}x)")
    print(f"(tinygrad's first run, before its functools.cache of div/mod folds is warm: "
          f"{result['tinygrad']['first_run_nodes_per_s']:.3e} nodes/s, ratio {result['ratio_cold']:.1f}x)")
    warm = result["femtograd"]["rewrite_results_alive_nodes_per_s"]
    result["ratio_results_alive"] = warm / tg_rate
    print(f"(femtograd with the previous results kept alive, as tinygrad's cache keeps its: {warm:.3e} nodes/s, "
          f"ratio {result['ratio_results_alive']:.1f}x)")
    print(f"(simplified nodes: femtograd {result['nodes_out_femtograd']}, tinygrad {result['tinygrad']['nodes_out']})")

  os.makedirs(os.path.dirname(args.json), exist_ok=True)
  with open(args.json, "w") as f: json.dump(result, f, indent=2)
  print(f"wrote {args.json}")


if __name__ == "__main__":
  main()
