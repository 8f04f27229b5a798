"""Model state, as in tinygrad.nn.state: get_state_dict, get_parameters, load_state_dict, safe_load,
safe_save, safe_load_metadata. safetensors files are read (mapped) and written (atomically) by the C++ core."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any

from femtograd import _C
from femtograd.tensor import Tensor


def safe_load(fn: str | os.PathLike, device: str | None = None) -> dict[str, Tensor]:
  """Every tensor of a safetensors file by name (corrupt files raise RuntimeError naming the byte)."""
  return dict(_C.safe_load(os.fspath(fn), device))


def safe_load_metadata(fn: str | os.PathLike) -> dict[str, str]:
  """The file's __metadata__ strings."""
  return dict(_C.safe_load_metadata(os.fspath(fn)))


def safe_save(tensors: dict[str, Tensor], fn: str | os.PathLike, metadata: dict[str, Any] | None = None) -> None:
  """Writes the tensors to a safetensors file, atomically (nothing is half-written)."""
  _C.safe_save(dict(tensors), os.fspath(fn), {str(k): str(v) for k, v in (metadata or {}).items()})


def get_state_dict(obj, prefix: str = "", tensor_type=Tensor) -> dict[str, Tensor]:
  """Every tensor reachable from obj's attributes, lists, tuples and dicts, by dotted name."""
  if isinstance(obj, tensor_type): return {prefix.strip("."): obj}
  if hasattr(obj, "_asdict"): return get_state_dict(obj._asdict(), prefix, tensor_type)  # namedtuple
  if isinstance(obj, OrderedDict): return get_state_dict(dict(obj), prefix, tensor_type)
  if hasattr(obj, "__dict__") and not isinstance(obj, type): return get_state_dict(obj.__dict__, prefix, tensor_type)
  state_dict: dict[str, Tensor] = {}
  if isinstance(obj, (list, tuple)):
    for i, x in enumerate(obj): state_dict.update(get_state_dict(x, f"{prefix}{i}.", tensor_type))
  elif isinstance(obj, dict):
    for k, v in obj.items(): state_dict.update(get_state_dict(v, f"{prefix}{k}.", tensor_type))
  return state_dict


def get_parameters(obj) -> list[Tensor]:
  """The tensors of get_state_dict(obj), each once."""
  return list({id(t): t for t in get_state_dict(obj).values()}.values())


def load_state_dict(model, state_dict: dict[str, Tensor], strict: bool = True, verbose: bool = True,
                    consume: bool = False, realize: bool = True) -> None:
  """Sets each tensor of the model to the state dict's tensor of the same name (same shape; converted to
  the model tensor's dtype and device). strict: a missing name is a KeyError."""
  model_state = get_state_dict(model)
  if verbose and len(state_dict) > len(model_state):
    print("WARNING: unused weights in state_dict", sorted(set(state_dict) - set(model_state)))
  loaded = []
  for k, v in model_state.items():
    if k not in state_dict:
      if strict: raise KeyError(f"load_state_dict: {k} is missing from the state dict")
      if verbose: print(f"WARNING: not loading {k}")
      continue
    src = state_dict[k]
    if tuple(v.shape) != tuple(src.shape):
      raise ValueError(f"Shape mismatch in layer `{k}`: Expected shape {v.shape}, but found {src.shape} in state dict.")
    src = src.to(v.device)
    v.assign(src if src.dtype == v.dtype else src.cast(v.dtype))
    loaded.append(v)
    if consume: del state_dict[k]
  if realize and loaded: Tensor.realize(*loaded)


__all__ = ["safe_load", "safe_save", "safe_load_metadata", "get_state_dict", "get_parameters", "load_state_dict"]
