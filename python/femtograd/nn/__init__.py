"""Layers, as in tinygrad.nn: small Python classes over the C++ Tensor ops (conv2d, batchnorm, layernorm,
...), with tinygrad's (and PyTorch's) names, initializations and state-dict names. (The C++ core's own
layer classes, femtograd/nn/layers.h, serve C++ programs; these keep tinygrad's Python semantics:
plain attributes that get_state_dict walks, Tensor.training.)"""
from __future__ import annotations

import functools
import math

from femtograd import _C
from femtograd.dtype import dtypes
from femtograd.tensor import Tensor
from femtograd.nn import optim, state, datasets  # noqa: F401  (tinygrad's nn.optim, nn.state, nn.datasets)


class Linear:
  """y = x @ weight.T + bias; weight (out, in) and bias (out,) uniform in +-1/sqrt(in_features)."""
  def __init__(self, in_features: int, out_features: int, bias: bool = True):
    bound = 1 / math.sqrt(in_features)
    self.weight = Tensor.uniform(out_features, in_features, low=-bound, high=bound)
    self.bias = Tensor.uniform(out_features, low=-bound, high=bound) if bias else None

  def __call__(self, x: Tensor) -> Tensor:
    return x.linear(self.weight.transpose(), self.bias)


class BatchNorm:
  """Batch normalization over axis 1 (BatchNorm1d/2d/3d alike), with running statistics."""
  def __init__(self, sz: int, eps: float = 1e-5, affine: bool = True, track_running_stats: bool = True,
               momentum: float = 0.1):
    self.eps, self.track_running_stats, self.momentum = eps, track_running_stats, momentum
    self.weight: Tensor | None = Tensor.ones(sz) if affine else None
    self.bias: Tensor | None = Tensor.zeros(sz) if affine else None
    self.num_batches_tracked = Tensor.zeros(1, dtype=dtypes.long, requires_grad=False)
    if track_running_stats:
      self.running_mean = Tensor.zeros(sz, requires_grad=False)
      self.running_var = Tensor.ones(sz, requires_grad=False)

  def calc_stats(self, x: Tensor) -> tuple[Tensor, Tensor]:
    shape_mask = [1, -1, *([1] * (x.ndim - 2))]
    if self.track_running_stats and not Tensor.training:
      return self.running_mean, self.running_var.reshape(shape_mask).expand(x.shape)
    axes = tuple(a for a in range(x.ndim) if a != 1)
    batch_mean = x.mean(axis=axes)
    y = x - batch_mean.detach().reshape(shape_mask)
    return batch_mean, (y * y).mean(axis=axes)

  def __call__(self, x: Tensor) -> Tensor:
    batch_mean, batch_var = self.calc_stats(x)
    if self.track_running_stats and Tensor.training:
      n = x.numel() / x.shape[1]
      self.running_mean.assign((1 - self.momentum) * self.running_mean + self.momentum * batch_mean.detach())
      self.running_var.assign((1 - self.momentum) * self.running_var +
                              self.momentum * n / max(n - 1, 1) * batch_var.detach())
      self.num_batches_tracked += 1
    return x.batchnorm(self.weight, self.bias, batch_mean, batch_var.add(self.eps).rsqrt())


BatchNorm1d = BatchNorm2d = BatchNorm3d = BatchNorm


class LayerNorm:
  """Normalization over the last len(normalized_shape) axes, with an elementwise affine part."""
  def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
    self.normalized_shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    self.axis, self.eps = tuple(-1 - i for i in range(len(self.normalized_shape))), eps
    self.weight = Tensor.ones(*self.normalized_shape) if elementwise_affine else None
    self.bias = Tensor.zeros(*self.normalized_shape) if elementwise_affine else None

  def __call__(self, x: Tensor) -> Tensor:
    if tuple(x.shape[-len(self.normalized_shape):]) != self.normalized_shape:
      raise ValueError(f"LayerNorm: last axes of {x.shape} must be {self.normalized_shape}")
    x = x.layernorm(eps=self.eps, axis=self.axis)
    return x if self.weight is None else x * self.weight + self.bias


class LayerNorm2d(LayerNorm):
  """LayerNorm over the channels of an NCHW tensor."""
  def __call__(self, x: Tensor) -> Tensor:
    return super().__call__(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RMSNorm:
  """x / sqrt(mean(x^2) + eps) * weight over the last axis."""
  def __init__(self, dim: int, eps: float = 1e-6, elementwise_affine: bool = True):
    self.eps = eps
    self.weight = Tensor.ones(dim) if elementwise_affine else None

  def _norm(self, x: Tensor) -> Tensor:
    return x * (x.square().mean(-1, keepdim=True) + self.eps).rsqrt()

  def __call__(self, x: Tensor) -> Tensor:
    x = self._norm(x.float()).cast(x.dtype)
    return x if self.weight is None else x * self.weight


class GroupNorm:
  """Normalization over groups of channels (axis 1), with a per-channel affine part."""
  def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
    self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
    self.weight = Tensor.ones(num_channels) if affine else None
    self.bias = Tensor.zeros(num_channels) if affine else None

  def __call__(self, x: Tensor) -> Tensor:
    x = x.reshape(x.shape[0], self.num_groups, -1).layernorm(eps=self.eps).reshape(x.shape)
    if self.weight is None or self.bias is None: return x
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * self.weight.reshape(shape) + self.bias.reshape(shape)


class InstanceNorm:
  """Normalization of each channel of each sample over its spatial axes."""
  def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = True):
    self.num_features, self.eps = num_features, eps
    self.weight = Tensor.ones(num_features) if affine else None
    self.bias = Tensor.zeros(num_features) if affine else None

  def __call__(self, x: Tensor) -> Tensor:
    x = x.reshape(x.shape[0], self.num_features, -1).layernorm(eps=self.eps).reshape(x.shape)
    if self.weight is None or self.bias is None: return x
    shape = (1, -1) + (1,) * (x.ndim - 2)
    return x * self.weight.reshape(shape) + self.bias.reshape(shape)


class Embedding:
  """Rows of a (vocab_size, embed_size) table looked up by integer indices."""
  def __init__(self, vocab_size: int, embed_size: int):
    self.vocab_sz, self.embed_sz = vocab_size, embed_size
    self.weight = Tensor.glorot_uniform(vocab_size, embed_size)

  def __call__(self, idx: Tensor) -> Tensor:
    classes = Tensor.arange(self.vocab_sz, device=self.weight.device)
    onehot = (idx.unsqueeze(-1) == classes).cast(self.weight.dtype)
    return onehot @ self.weight


def _tuple(x, n: int) -> tuple:
  return tuple(x) if isinstance(x, (tuple, list)) else (x,) * n


class Conv2d:
  """2-d convolution; weight (out, in/groups, *kernel) and bias uniform in +-1/sqrt(fan_in) (tinygrad's)."""
  nd = 2

  def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups=1,
               bias: bool = True):
    if not hasattr(Tensor, "conv2d"):
      raise NotImplementedError(f"nn.{type(self).__name__}: the C++ core has no convolution op yet")
    self.kernel_size = _tuple(kernel_size, self.nd)
    self.stride, self.dilation, self.groups, self.padding = stride, dilation, groups, padding
    scale = 1 / math.sqrt(in_channels * math.prod(self.kernel_size))
    self.weight = Tensor.uniform(out_channels, in_channels // groups, *self.kernel_size, low=-scale, high=scale)
    self.bias = Tensor.uniform(out_channels, low=-scale, high=scale) if bias else None

  def __call__(self, x: Tensor) -> Tensor:
    return x.conv2d(self.weight, self.bias, groups=self.groups, stride=self.stride, dilation=self.dilation,
                    padding=self.padding)


class Conv1d(Conv2d):
  nd = 1


class ConvTranspose2d:
  """2-d transposed convolution; weight (in, out/groups, *kernel)."""
  nd = 2

  def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
               dilation=1, groups=1, bias: bool = True):
    if not hasattr(Tensor, "conv_transpose2d"):
      raise NotImplementedError(f"nn.{type(self).__name__}: the C++ core has no convolution op yet")
    self.kernel_size = _tuple(kernel_size, self.nd)
    self.stride, self.padding, self.output_padding = stride, padding, output_padding
    self.dilation, self.groups = dilation, groups
    scale = 1 / math.sqrt(in_channels * math.prod(self.kernel_size))
    self.weight = Tensor.uniform(in_channels, out_channels // groups, *self.kernel_size, low=-scale, high=scale)
    self.bias = Tensor.uniform(out_channels, low=-scale, high=scale) if bias else None

  def __call__(self, x: Tensor) -> Tensor:
    return x.conv_transpose2d(self.weight, self.bias, groups=self.groups, stride=self.stride, dilation=self.dilation,
                              padding=self.padding, output_padding=self.output_padding)


class ConvTranspose1d(ConvTranspose2d):
  nd = 1


def _name_kernels(cls: type) -> None:
  """Wraps cls.__call__ so the kernels of what a layer builds are named after its class (DEBUG=2)."""
  call = cls.__call__
  def __call__(self, *args, **kwargs):
    with _C.op_scope(type(self).__name__):
      return call(self, *args, **kwargs)
  cls.__call__ = functools.wraps(call)(__call__)


for _cls in list(globals().values()):
  if isinstance(_cls, type) and _cls.__module__ == __name__ and "__call__" in _cls.__dict__: _name_kernels(_cls)


__all__ = ["Linear", "BatchNorm", "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "LayerNorm2d", "RMSNorm",
           "GroupNorm", "InstanceNorm", "Embedding", "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d",
           "optim", "state", "datasets"]
