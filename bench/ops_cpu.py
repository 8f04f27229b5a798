#!/usr/bin/env python3
"""CPU kernels, femtograd against numpy on this machine, side by side in one run (issue 3).

    python3 bench/ops_cpu.py [--build build] [--nice -15] [--rounds 2] [--reps 20] [--cases a,b] [--out FILE]
                             [--beam N]

Builds nothing: the binary is BUILD/bench/ops_cpu (cmake -DFG_BENCH=ON; ninja -C BUILD ops_cpu).

What it does: --rounds rounds (default 2); in each, for every case in turn, first femtograd
(BUILD/bench/ops_cpu --cases CASE, a new process), then numpy (a subprocess of this script), so
both sides of a case run close together in time on a shared machine.
  - femtograd's kernel cache (CACHEDIR) is a fresh, empty folder for round 1: every kernel
    compiles, and the first realize of each case and the compile time (compile_stats) are the
    first-run numbers; rounds 2+ find it warm (the cached re-run: disk-cache loads, no compiles);
  - numpy runs in an environment with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed (this
    machine may set them as an old OpenBLAS workaround; they slow a current numpy) and
    OPENBLAS_NUM_THREADS / OMP_NUM_THREADS set to femtograd's thread count, so matmul runs on as
    many threads on both sides; numpy's elementwise ops and reductions run on one thread whatever
    is set (that is numpy); threadpoolctl (if installed) names the OpenBLAS kernel it runs.
Steady-state numbers are the minimum over all rounds (the machine is shared and noisy); each
side's per-round number is already the minimum (and median) of --reps repetitions.

Prints one markdown table (case, femtograd ms, numpy ms, ratio = numpy / femtograd so > 1 means
femtograd is faster, GB/s or GFLOP/s, goal met?) and the compile numbers, and writes everything
(raw per-round results included) to bench/results/ops_cpu.json.

--beam N also runs every case with BEAM=N (a third process per case and round, right after the
heuristic one, same kernel cache folder): round 1 pays the search (its first realize), later rounds
read the winners from the cache. A second table shows heuristic vs BEAM side by side, with the
search time and the winning opts (from the BEAM lines DEBUG=2 prints).

Goals (issue 3): elementwise and reductions >= 1.5x numpy (ratio >= 1.5); matmul >= 60% of
numpy's GFLOP/s (ratio >= 0.6). Softmax has no goal in the issue; its ratio is shown.
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
UNSET_FOR_NUMPY = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
GOALS = {"elementwise": 1.5, "reduce": 1.5, "matmul": 0.6}

# ------------------------------------------------------------------------------------ numpy side


def numpy_cases(np):
    """name -> (make inputs, function); the same names, shapes, dtypes and input ranges as
    bench/ops_cpu.cc (the values differ: another generator)."""
    rng = np.random.default_rng(0)

    def u(shape, lo=-1.0, hi=1.0):
        return lambda: rng.uniform(lo, hi, size=shape).astype(np.float32)

    f32 = np.float32
    cases = {}
    for tag, shape in (("16M", (4096, 4096)), ("1M", (1024, 1024))):
        cases["add1_" + tag] = ([u(shape)], lambda x: x + f32(1))
        cases["chain_" + tag] = ([u(shape)] * 3, lambda a, b, c: np.maximum((a * b + c) * f32(0.5), f32(0)))
        cases["chain_exp_log_sqrt_" + tag] = (
            [u(shape, -2, 2)] * 3, lambda a, b, c: np.sqrt(np.log(np.exp(a * b) + f32(1))) * c)
    cases["sum_all_16M"] = ([u((4096, 4096))], lambda x: x.sum())
    cases["sum_all_1M"] = ([u((4096, 256))], lambda x: x.sum())
    cases["mean_all_16M"] = ([u((4096, 4096))], lambda x: x.mean())
    cases["sum_lastaxis_4096x4096"] = ([u((4096, 4096))], lambda x: x.sum(-1))
    cases["max_lastaxis_4096x4096"] = ([u((4096, 4096))], lambda x: x.max(-1))
    cases["sum_lastaxis_1024x1024"] = ([u((1024, 1024))], lambda x: x.sum(-1))

    def softmax(x):
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    cases["softmax_4096x1024"] = ([u((4096, 1024), -4, 4)], softmax)
    cases["softmax_256x1024"] = ([u((256, 1024), -4, 4)], softmax)
    for n in (512, 1024, 2048):
        cases["matmul_%d" % n] = ([u((n, n))] * 2, lambda a, b: a @ b)
    return cases


def blas_info(np):
    info = {"numpy": np.__version__}
    try:
        from threadpoolctl import threadpool_info
        info["threadpoolctl"] = [
            {k: d.get(k) for k in ("internal_api", "version", "architecture", "num_threads", "threading_layer", "filepath")}
            for d in threadpool_info()]
    except ImportError:
        info["threadpoolctl"] = "not installed (pip install threadpoolctl shows which OpenBLAS kernel runs)"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["blas"] = {k: blas.get(k) for k in ("name", "version", "openblas configuration")}
    except Exception as e:  # older numpy: no mode="dicts"
        info["blas"] = "numpy.show_config(mode='dicts') failed: %s" % e
    return info


def numpy_worker(args):
    """Runs in a subprocess with the numpy environment; prints one JSON object."""
    import numpy as np
    cases = numpy_cases(np)
    names = args.cases.split(",") if args.cases else list(cases)
    out = {"info": blas_info(np), "env": {k: os.environ.get(k) for k in
                                          UNSET_FOR_NUMPY + ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
           "cases": {}}
    for name in names:
        if name not in cases:
            continue
        makers, fn = cases[name]
        inputs = [m() for m in makers]
        fn(*inputs)  # warm-up: page faults of the first temporaries, BLAS thread start
        times, t_case = [], time.perf_counter()
        for i in range(args.reps):
            if i >= 3 and time.perf_counter() - t_case > args.budget:
                break
            t0 = time.perf_counter()
            r = fn(*inputs)
            times.append(time.perf_counter() - t0)
            del r
        out["cases"][name] = {"min_ms": min(times) * 1e3, "median_ms": statistics.median(times) * 1e3,
                              "reps": len(times)}
        del inputs
    print(json.dumps(out))


def run_numpy(args, threads, case):
    env = dict(os.environ)
    for k in UNSET_FOR_NUMPY:
        env.pop(k, None)
    env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--numpy-worker", "--reps", str(args.reps),
           "--budget", str(args.budget), "--cases", case]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("numpy run failed:\n" + p.stderr)
    return json.loads(p.stdout.strip().splitlines()[-1])

# -------------------------------------------------------------------------------- femtograd side


def run_femtograd(args, binary, cachedir, case, beam=0):
    """One case in a fresh process (the kernel cache on disk is CACHEDIR's); beam > 0: with BEAM=beam."""
    env = dict(os.environ, CACHEDIR=cachedir)
    env.pop("DEBUG", None)  # the binary sets DEBUG=2 itself and captures the kernel lines
    env.pop("BEAM", None)
    if beam:
        env["BEAM"] = str(beam)
    cmd = [binary, "--reps", str(args.reps), "--budget", str(args.budget), "--cases", case]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    lines = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if not lines or not lines[-1].get("summary"):
        sys.exit("%s failed (exit %d):\n%s\n%s" % (" ".join(cmd), p.returncode, p.stdout, p.stderr))
    rec = next(l for l in lines if l.get("case") == case)
    rec["process_wall_s"] = wall
    # BEAM's summary lines (DEBUG=2): "BEAM r_..: winner [...] ..." or "BEAM: cached winner [...]"
    rec["beam_lines"] = [l for l in rec.get("stderr", "").splitlines() if l.startswith("BEAM") and "winner" in l]
    if "error" not in rec:  # what the first realize cost beyond a steady-state one: codegen + compile/load
        rec["first_overhead_ms"] = rec["first_realize_ms"] - rec["realize_ms"]["min"]
    return rec, lines[-1]


SUM_KEYS = ("first_realize_total_ms", "compile_total_ms", "compiles", "disk_cache_hits", "kernels_first_realize",
            "failed_cases", "wall_s")


def summarize(recs, summaries):
    s = {k: sum(x[k] for x in summaries) for k in SUM_KEYS}
    s["threads"] = summaries[0]["threads"]
    s["first_overhead_total_ms"] = sum(r.get("first_overhead_ms", 0) for r in recs)
    return s

# ----------------------------------------------------------------------------------------- table


def machine():
    model = ""
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return {"cpu": model or platform.processor(), "nproc": os.cpu_count(), "os": platform.platform()}


def set_priority(level):
    """Best effort; returns what was done, for the record."""
    done = {}
    try:
        os.nice(level - os.nice(0))
        done["nice"] = os.nice(0)
    except OSError as e:
        done["nice_error"] = str(e)
    try:  # with autogroups, CPU time is shared between sessions first, then by nice inside one
        with open("/proc/self/autogroup") as f:
            done["autogroup_before"] = int(f.read().split()[-1])  # "/autogroup-13 nice 0"
        with open("/proc/self/autogroup", "w") as f:
            f.write(str(level))
        with open("/proc/self/autogroup") as f:
            done["autogroup"] = f.read().strip()
    except OSError as e:
        done["autogroup_error"] = str(e)
    return done


def restore_autogroup(priority):
    """The autogroup is the whole session's (the shell that started this too): put it back."""
    if priority and "autogroup_before" in priority:
        try:
            with open("/proc/self/autogroup", "w") as f:
                f.write(str(priority["autogroup_before"]))
        except OSError:
            pass


def git_state():
    try:
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True)
        if rev.returncode == 0:
            return rev.stdout.strip() + (" (uncommitted changes in the tree)" if dirty.stdout.strip() else "")
    except OSError:
        pass
    return None


def fmt(v, nd=2):
    return "—" if v is None else ("%.*f" % (nd, v))


def build_rows(fg_runs, np_runs):
    names = list(fg_runs[0]["cases"])
    rows = []
    for name in names:
        recs = [r["cases"][name] for r in fg_runs if name in r["cases"]]
        first = recs[0]
        row = {"case": name, "kind": first.get("kind"), "shape": first.get("shape")}
        if any("error" in r for r in recs):
            row["error"] = next(r["error"] for r in recs if "error" in r)
            rows.append(row)
            continue
        fg_ms = min(r["realize_ms"]["min"] for r in recs)
        fg_kernel_ms = min(r["kernel_ms"]["min"] for r in recs)
        fg_median = min(r["realize_ms"]["median"] for r in recs)
        nps = [r["cases"][name] for r in np_runs if name in r["cases"]]
        np_ms = min(n["min_ms"] for n in nps) if nps else None
        np_median = min(n["median_ms"] for n in nps) if nps else None
        row.update(fg_ms=fg_ms, fg_median_ms=fg_median, fg_kernel_ms=fg_kernel_ms, np_ms=np_ms, np_median_ms=np_median,
                   ratio=(np_ms / fg_ms) if np_ms else None, check_ok=all(r["check"]["ok"] for r in recs),
                   check=recs[-1]["check"], n_kernels=first["n_kernels"],
                   kernels=[k["name"] for k in first["kernels"]],
                   first_realize_cold_ms=first["first_realize_ms"], compile_cold_ms=first["compile_ms"],
                   first_overhead_cold_ms=first.get("first_overhead_ms"),
                   first_realize_warm_ms=recs[1]["first_realize_ms"] if len(recs) > 1 else None,
                   first_overhead_warm_ms=recs[1].get("first_overhead_ms") if len(recs) > 1 else None)
        if first["kind"] == "matmul":
            row["unit"] = "GFLOP/s"
            row["fg_rate"] = first["flops"] / fg_ms * 1e-6
            row["np_rate"] = first["flops"] / np_ms * 1e-6 if np_ms else None
        else:
            row["unit"] = "GB/s"
            row["fg_rate"] = first["bytes"] / fg_ms * 1e-6
            row["np_rate"] = first["bytes"] / np_ms * 1e-6 if np_ms else None
        goal = GOALS.get(first["kind"])
        row["goal"] = goal
        row["goal_met"] = None if goal is None or row["ratio"] is None else row["ratio"] >= goal
        rows.append(row)
    return rows


def table(rows):
    out = ["| case | shape | femtograd ms | (kernels ms) | numpy ms | ratio np/fg | femtograd | numpy | goal | met? "
           "| kernels (DEBUG=2 names) | check |",
           "|---|---|---:|---:|---:|---:|---:|---:|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            out.append("| %s | %s | error: %s |  |  |  |  |  |  |  |  |  |" % (r["case"], r["shape"],
                                                                            r["error"].splitlines()[0][:120]))
            continue
        goal = "—" if r["goal"] is None else (">= %.1fx" % r["goal"] if r["kind"] != "matmul" else
                                              ">= %d%%" % round(r["goal"] * 100))
        met = "—" if r["goal_met"] is None else ("yes" if r["goal_met"] else "no")
        ks = ", ".join(r["kernels"][:3]) + (" …" if len(r["kernels"]) > 3 else "")
        out.append("| %s | %s | %s | %s | %s | %s | %s %s | %s %s | %s | %s | %s | %s |" % (
            r["case"], r["shape"], fmt(r["fg_ms"]), fmt(r["fg_kernel_ms"]), fmt(r["np_ms"]), fmt(r["ratio"]),
            fmt(r["fg_rate"], 1), r["unit"], fmt(r["np_rate"], 1), r["unit"], goal, met, ks,
            "ok" if r["check_ok"] else "WRONG (%s)" % json.dumps(r["check"])))
    return "\n".join(out)


def beam_table(rows, beam_rows, beam_runs, n):
    by_case = {r["case"]: r for r in beam_rows}
    out = ["| case | heuristic ms | BEAM=%d ms | speedup | heuristic kernels ms | BEAM kernels ms | first realize with "
           "search (s) | BEAM winner (DEBUG=2) |" % n,
           "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        b = by_case.get(r["case"])
        if "error" in r or b is None or "error" in b:
            out.append("| %s | error |  |  |  |  |  |  |" % r["case"])
            continue
        winners = beam_runs[0]["cases"][r["case"]].get("beam_lines", [])
        win = "; ".join(w.split("winner", 1)[1].split(" vs ")[0].strip() for w in winners)[:200]
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["case"], fmt(r["fg_ms"]), fmt(b["fg_ms"]), fmt(r["fg_ms"] / b["fg_ms"]), fmt(r["fg_kernel_ms"]),
            fmt(b["fg_kernel_ms"]), fmt(b["first_realize_cold_ms"] / 1e3, 1), win or "—"))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="the cmake build folder holding bench/ops_cpu")
    ap.add_argument("--reps", type=int, default=20, help="repetitions per case and round (each side)")
    ap.add_argument("--budget", type=float, default=4.0, help="seconds per case and round, once 3 reps ran")
    ap.add_argument("--rounds", type=int, default=2, help="rounds over all cases; round 1 has the cold kernel cache")
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "ops_cpu.json"))
    ap.add_argument("--nice", type=int, default=None,
                    help="run both sides at this nice level (negative needs root), also as the nice of this "
                         "session's scheduler autogroup where the kernel has them: on a machine shared with "
                         "builds in other sessions, plain nice does not raise a process above other sessions")
    ap.add_argument("--beam", type=int, default=0,
                    help="also run every case with BEAM=N and print heuristic vs BEAM side by side")
    ap.add_argument("--note", default="", help="free text recorded with the results (e.g. what was built)")
    ap.add_argument("--numpy-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        return numpy_worker(args)

    binary = os.path.join(args.build if os.path.isabs(args.build) else os.path.join(ROOT, args.build),
                          "bench", "ops_cpu")
    if not os.access(binary, os.X_OK):
        sys.exit("no %s: configure with -DFG_BENCH=ON and build the ops_cpu target, e.g.\n"
                 "  cmake -G Ninja -S . -B %s -DFG_BENCH=ON -DCMAKE_BUILD_TYPE=Release && ninja -C %s ops_cpu"
                 % (binary, args.build, args.build))
    priority = set_priority(args.nice) if args.nice is not None else None
    p = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True)
    cases = p.stdout.split()
    if args.cases:
        unknown = [c for c in args.cases.split(",") if c not in cases]
        if unknown:
            sys.exit("unknown cases %s; the binary has: %s" % (unknown, " ".join(cases)))
        cases = [c for c in cases if c in args.cases.split(",")]
    # Each round runs every case on both sides, one after the other (femtograd then numpy for a
    # case, then the next case), so that both see about the same load on a shared machine.
    cachedir = tempfile.mkdtemp(prefix="fg_ops_cpu_cache_")
    fg_runs, np_runs, beam_runs = [], [], []
    try:
        for r in range(max(1, args.rounds)):
            fg_recs, fg_sums, np_round, beam_recs, beam_sums = [], [], None, [], []
            for case in cases:
                print("round %d/%d: %s (%s kernel cache) ..." % (r + 1, args.rounds, case, "cold" if r == 0 else "warm"),
                      file=sys.stderr, flush=True)
                rec, summ = run_femtograd(args, binary, cachedir, case)
                fg_recs.append(rec)
                fg_sums.append(summ)
                if args.beam:
                    print("round %d/%d: %s with BEAM=%d ..." % (r + 1, args.rounds, case, args.beam), file=sys.stderr,
                          flush=True)
                    brec, bsumm = run_femtograd(args, binary, cachedir, case, beam=args.beam)
                    beam_recs.append(brec)
                    beam_sums.append(bsumm)
                res = run_numpy(args, summ["threads"], case)
                if np_round is None:
                    np_round = {"info": res["info"], "env": res["env"], "cases": {}}
                np_round["cases"].update(res["cases"])
            fg_runs.append({"cases": {x["case"]: x for x in fg_recs}, "summary": summarize(fg_recs, fg_sums)})
            np_runs.append(np_round)
            if args.beam:
                beam_runs.append({"cases": {x["case"]: x for x in beam_recs}, "summary": summarize(beam_recs, beam_sums)})
    finally:
        shutil.rmtree(cachedir, ignore_errors=True)
        restore_autogroup(priority)

    rows = build_rows(fg_runs, np_runs)
    beam_rows = build_rows(beam_runs, np_runs) if args.beam else []
    cold, warm = fg_runs[0]["summary"], fg_runs[1]["summary"] if len(fg_runs) > 1 else None
    np_info = np_runs[0]["info"]
    date = subprocess.run(["date"], capture_output=True, text=True).stdout.strip()
    mach = machine()
    cmd = "python3 bench/ops_cpu.py " + " ".join(sys.argv[1:])

    print()
    print("%s; %s, nproc %s; femtograd THREADS=%s; `%s`" % (date, mach["cpu"], mach["nproc"], cold["threads"], cmd.strip()))
    print("source: %s; binary %s%s" % (git_state(), binary, ("; " + args.note) if args.note else ""))
    if priority:
        print("priority: %s" % priority)
    tp = np_info.get("threadpoolctl")
    if isinstance(tp, list):
        tp = "; ".join("%s %s, kernel %s, %s threads" % (d["internal_api"], d["version"], d["architecture"],
                                                         d["num_threads"]) for d in tp)
    print("numpy %s, BLAS: %s (numpy env: %s)" % (np_info["numpy"], tp, np_runs[0]["env"]))
    print()
    print(table(rows))
    print()
    print("First run (empty kernel cache): %d kernels compiled in %.0f ms of compiler time; the first realize of "
          "every case took %.0f ms in all." % (cold["compiles"], cold["compile_total_ms"], cold["first_realize_total_ms"]))
    print("  Of that, beyond a steady-state realize of each case (codegen + compile + load): %.0f ms."
          % cold["first_overhead_total_ms"])
    if warm:
        print("Cached re-run (warm disk cache, a new process per case): %d compiles, %d disk-cache loads; the first "
              "realize of every case took %.0f ms in all, %.0f ms of it beyond a steady-state realize (codegen + "
              "load)." % (warm["compiles"], warm["disk_cache_hits"], warm["first_realize_total_ms"],
                          warm["first_overhead_total_ms"]))
    if args.beam:
        print()
        print("Heuristic vs BEAM=%d (femtograd ms: min over rounds; round 1 searched, later rounds read the cached "
              "winners):" % args.beam)
        print()
        print(beam_table(rows, beam_rows, beam_runs, args.beam))
    bad = [r["case"] for r in rows + beam_rows if "error" in r or not r.get("check_ok", False)]
    if bad:
        print("WRONG or failed results: " + ", ".join(bad))

    result = {"date": date, "machine": mach, "command": cmd.strip(), "git": git_state(), "binary": binary,
              "note": args.note, "priority": priority, "numpy": np_info, "numpy_env": np_runs[0]["env"],
              "env_outside_numpy": {k: os.environ.get(k) for k in UNSET_FOR_NUMPY + ("THREADS",)},
              "femtograd_threads": cold["threads"], "rows": rows,
              "first_run": cold, "cached_rerun": warm,
              "femtograd_runs": fg_runs, "numpy_runs": np_runs, "beam": args.beam, "beam_rows": beam_rows,
              "beam_runs": beam_runs}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print("\nwrote " + os.path.relpath(args.out, os.getcwd()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
