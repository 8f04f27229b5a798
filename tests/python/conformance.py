"""The one comparison helper of the op conformance suite: check_case(case, device) runs a case of
op_cases.CASES on femtograd and on the reference (PyTorch when importable and the case allows it, else
numpy) with the same random inputs, and compares the forward values (same shape; per-dtype tolerances;
exact for ints and bools) and, for cases with grad=True, the gradients of sum(out * w) with respect to
every float input (w random): femtograd's backward() against PyTorch's autograd, or against central
finite differences of the numpy reference in float64.

An op femtograd does not have yet (AttributeError on its Tensor, or NotImplementedError) skips the case.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest

from op_cases import FG, NP, Case, torch_adapter

# (atol, rtol) of forward values by the femtograd result dtype; ints and bools are exact
TOL = {"float32": (1e-5, 1e-4), "float16": (5e-3, 5e-3), "bfloat16": (1e-2, 1e-2), "float64": (1e-7, 1e-6)}
# (atol, rtol) of gradients by input dtype, against autograd or finite differences in float64
GRAD_TOL = {"float32": (1e-4, 2e-3), "float16": (2e-2, 2e-2), "bfloat16": (5e-2, 5e-2), "float64": (1e-6, 1e-5)}
FD_EPS = 1e-6

try:
  TORCH = torch_adapter()
except ImportError:
  TORCH = None


def reference_name() -> str:
  return "torch" if TORCH is not None else "numpy"


def _is_float(dt: str) -> bool: return dt.startswith("float") or dt == "bfloat16"
def _is_int(dt: str) -> bool: return dt.startswith("int") or dt.startswith("uint")


def make_inputs(case: Case, rng: np.random.Generator) -> list:
  """Random inputs of the case's shapes and dtypes (bfloat16 values are float32 rounded to bfloat16)."""
  from op_cases import _bf16_round
  dts = case.input_dtypes or (case.dtype,) * len(case.shapes)
  out = []
  for k, (shape, dt) in enumerate(zip(case.shapes, dts)):
    if dt == "bool":
      a = rng.random(shape) > 0.5
    elif _is_int(dt):
      lo, hi = (max(case.ilow, 0), case.ihigh) if dt.startswith("uint") else (case.ilow, case.ihigh)
      a = rng.integers(lo, hi, size=shape)
      for d in range(len(shape)):  # an index whose entries are distinct along axis d (scatter without reduce)
        if case.extra.get(f"unique_index{d}") and k > 0:
          for pos in np.ndindex(*[n for i, n in enumerate(shape) if i != d]):
            sel = list(pos)
            sel.insert(d, slice(None))
            a[tuple(sel)] = rng.permutation(hi)[: shape[d]]
      if case.extra.get(f"nonzero{k + 1}"): a[a == 0] = 1
      a = a.astype(dt)
    else:
      lo, hi = case.extra.get(f"low{k + 1}") or (case.low, case.high)
      a = rng.uniform(lo, hi, size=shape)
      if case.special and a.size:
        flat = a.reshape(-1)
        for v in (np.nan, np.inf, -np.inf):
          flat[rng.integers(0, flat.size, size=max(1, flat.size // 6))] = v
      a = _bf16_round(a) if dt == "bfloat16" else a.astype(dt)
    out.append(np.asarray(a))
  return out


def _to_numpy(x) -> np.ndarray:
  if hasattr(x, "detach"): x = x.detach().cpu().numpy()   # torch
  elif hasattr(x, "numpy") and not isinstance(x, np.ndarray): x = x.numpy()
  return np.asarray(x)


def _compare(name: str, got: np.ndarray, want: np.ndarray, atol: float, rtol: float, exact: bool) -> None:
  assert got.shape == want.shape, f"{name}: shape {got.shape}, reference {want.shape}"
  if exact:
    ok = np.array_equal(got.astype(np.float64), want.astype(np.float64), equal_nan=True)
  else:
    ok = np.allclose(got.astype(np.float64), want.astype(np.float64), atol=atol, rtol=rtol, equal_nan=True)
  if not ok:
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    raise AssertionError(f"{name} differs (atol={atol}, rtol={rtol}): max |diff| {np.nanmax(diff) if diff.size else 0}\n"
                         f"femtograd:\n{got}\nreference:\n{want}")


# ---------------------------------------------------------------- the frameworks


def run_femtograd(case: Case, inputs: list, grad_w_seed: int, device: str):
  from femtograd import Tensor, Context, dtypes
  dts = case.input_dtypes or (case.dtype,) * len(case.shapes)
  with Context(DEV=device):
    ts = []
    for a, dt in zip(inputs, dts):
      if dt == "bfloat16": t = Tensor(a.astype(np.float32), device=device, dtype=dtypes.bfloat16)
      else: t = Tensor(a, device=device)
      if case.grad and _is_float(dt): t.requires_grad_()
      ts.append(t)
    out = case.fn(FG, *ts)
    got = out.numpy().copy()
    out_dtype = out.dtype.name
    grads = None
    if case.grad and out.dtype.is_float():
      w = np.random.default_rng(grad_w_seed).standard_normal(got.shape)
      (out * Tensor(w.astype(np.float32 if out_dtype == "bfloat16" else got.dtype), device=device, dtype=out.dtype)).sum().backward()
      gs = [t.grad for t, dt in zip(ts, dts) if _is_float(dt)]
      Tensor.realize(*[g for g in gs if g is not None])  # one schedule: its kernels compile in parallel
      grads = [np.zeros(t.shape) if g is None else g.numpy().copy() for t, g in zip([t for t, dt in zip(ts, dts) if _is_float(dt)], gs)]
  return got, out_dtype, grads


def _ref_inputs(inputs: list, dts: tuple) -> list:
  # the reference computes floats in float64 on the same values
  return [a.astype(np.float64) if _is_float(dt) else a for a, dt in zip(inputs, dts)]


def run_numpy(case: Case, inputs: list, grad_w_seed: int, want_grads: bool):
  dts = case.input_dtypes or (case.dtype,) * len(case.shapes)
  xs = _ref_inputs(inputs, dts)
  with np.errstate(all="ignore"):
    want = np.asarray(case.fn(NP, *xs))
  grads = None
  if want_grads:
    w = np.random.default_rng(grad_w_seed).standard_normal(want.shape)
    def loss(vals):
      with np.errstate(all="ignore"):
        return float(np.sum(np.asarray(case.fn(NP, *vals), dtype=np.float64) * w))
    grads = []
    for k, dt in enumerate(dts):
      if not _is_float(dt): continue
      g = np.zeros(xs[k].shape)
      for j in np.ndindex(*xs[k].shape):
        vals = [x.copy() for x in xs]
        h = FD_EPS * max(1.0, abs(xs[k][j]))
        vals[k][j] = xs[k][j] + h
        up = loss(vals)
        vals[k][j] = xs[k][j] - h
        g[j] = (up - loss(vals)) / (2 * h)
      grads.append(g)
  return want, grads


def run_torch(case: Case, inputs: list, grad_w_seed: int, want_grads: bool):
  import torch
  dts = case.input_dtypes or (case.dtype,) * len(case.shapes)
  ts = []
  for a, dt in zip(_ref_inputs(inputs, dts), dts):
    t = torch.from_numpy(np.array(a, copy=True, order="C"))  # ascontiguousarray would make 0-d arrays 1-d
    if want_grads and _is_float(dt): t.requires_grad_()
    ts.append(t)
  out = case.fn(TORCH, *ts)
  want = out.detach().numpy()
  grads = None
  if want_grads:
    w = torch.from_numpy(np.random.default_rng(grad_w_seed).standard_normal(want.shape))
    (out * w).sum().backward()
    grads = [(t.grad.numpy() if t.grad is not None else np.zeros(t.shape)) for t, dt in zip(ts, dts) if _is_float(dt)]
  return want, grads


# ---------------------------------------------------------------- the helper


def check_case(case: Case, device: str = "CPU") -> str:
  """Runs one case on femtograd and the reference and compares; returns the reference's name."""
  seed = zlib.crc32(case.id.encode())
  inputs = make_inputs(case, np.random.default_rng(seed))
  try:
    got, out_dtype, fg_grads = run_femtograd(case, inputs, seed + 1, device)
  except NotImplementedError as e:
    pytest.skip(f"not implemented in femtograd yet: {e}")
  except AttributeError as e:
    if "Tensor" in str(e) or "femtograd" in str(e): pytest.skip(f"op not in femtograd yet: {e}")
    raise
  if case.check_dtype is not None:
    assert out_dtype == case.check_dtype, f"result dtype {out_dtype}, expected {case.check_dtype} (PyTorch's promotion)"
  want_grads = fg_grads is not None
  ref = "numpy"
  want = ref_grads = None
  if TORCH is not None and case.torch_ok:
    try:
      want, ref_grads = run_torch(case, inputs, seed + 1, want_grads)
      ref = "torch"
    except (TypeError, RuntimeError, AttributeError, ValueError, IndexError):
      want = None  # the op or form is not PyTorch's: numpy is the reference
  if want is None:
    want, ref_grads = run_numpy(case, inputs, seed + 1, want_grads)
  exact = not _is_float(out_dtype)
  atol, rtol = case.tol or TOL.get(out_dtype, (0, 0))
  _compare(f"{case.id} forward vs {ref}", got, want, atol, rtol, exact)
  if want_grads:
    dts = case.input_dtypes or (case.dtype,) * len(case.shapes)
    fdts = [dt for dt in dts if _is_float(dt)]
    for k, (g, rg, dt) in enumerate(zip(fg_grads, ref_grads, fdts)):
      gatol, grtol = GRAD_TOL[dt]
      _compare(f"{case.id} grad of float input {k} vs {ref}", g, rg, gatol, grtol, False)
  return ref
