"""femtograd: a tinygrad-style deep-learning compiler with a C++ core.

The public API follows tinygrad's, so a tinygrad script runs after changing its import line::

    from femtograd import Tensor, nn, dtypes, Device, TinyJit, Context, GlobalCounters
    from femtograd.helpers import getenv
"""
from femtograd import _C  # noqa: F401  (the C++ core; built by CMake or pip)
from femtograd.dtype import dtypes, DType
from femtograd.tensor import Tensor, no_grad
from femtograd.device import Device
from femtograd.helpers import Context, GlobalCounters, getenv
from femtograd.engine.jit import TinyJit
from femtograd import nn

if getenv("VIZ", 0):  # record every graph rewrite and kernel; serve the viewer when the program ends
  import atexit
  _C.viz_enable()
  atexit.register(_C.viz_serve_if_enabled)

__all__ = ["Tensor", "dtypes", "DType", "Device", "TinyJit", "Context", "GlobalCounters", "getenv", "nn", "no_grad"]
