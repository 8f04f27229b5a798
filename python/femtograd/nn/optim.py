"""Optimizers, as in tinygrad.nn.optim: SGD (through LARS), LARS, Adam and AdamW (through LAMB), LAMB.

step() computes every new value (parameters and optimizer state) lazily, realizes them all in one
schedule, then assigns them, so a step is one realize however many parameters there are.
The learning rate is a one-element tensor (opt.lr) so changing it does not change the kernels."""
from __future__ import annotations

from femtograd import _C
from femtograd.dtype import dtypes
from femtograd.helpers import dedup
from femtograd.tensor import Tensor


def _scalar_buffer(v: float, device: str) -> Tensor:
  # a 0-d tensor backed by memory (Tensor(v) alone is a constant folded into kernels)
  return Tensor([v], device=device, dtype=dtypes.float32).reshape(()).realize()


def _named(opt, name: str):
  opt.name = name  # what its kernels are named after (DEBUG=2): "Adam.step"
  return opt


class Optimizer:
  """Base class: params with requires_grad None become True; those with False are kept as buffers."""
  def __init__(self, params: list[Tensor], lr: float):
    for x in params:
      if x.requires_grad is None: x.requires_grad = True
    self.params: list[Tensor] = dedup([x for x in params if x.requires_grad])
    if not self.params: raise ValueError("optimizer got an empty parameter list")
    self.buffers: list[Tensor] = dedup([x for x in params if not x.requires_grad])
    self.device = self.params[0].device
    self.lr = _scalar_buffer(lr, self.device)

  def zero_grad(self) -> None:
    for p in self.params: p.grad = None

  def _updates(self, grads: list[Tensor]) -> list[tuple[Tensor, Tensor]]:
    raise NotImplementedError

  def schedule_step(self) -> list[Tensor]:
    """Computes and assigns the new values (realized together); returns the updated tensors."""
    for p in self.params:
      if p.grad is None: raise RuntimeError(f"optimizer: a parameter {p.shape} has no gradient; call backward() first")
    with _C.op_scope(f"{getattr(self, 'name', type(self).__name__)}.step"):  # names the update kernels (DEBUG=2)
      ups = self._updates([p.grad for p in self.params])
    Tensor.realize(*[v for _, v in ups])
    for t, v in ups: t.assign(v)
    return [t for t, _ in ups] + self.buffers

  def step(self) -> None:
    Tensor.realize(*self.schedule_step())


class OptimizerGroup(Optimizer):
  """Several optimizers stepped together."""
  def __init__(self, *optimizers: Optimizer):
    self.optimizers = optimizers
    self.params, self.buffers = [p for o in optimizers for p in o.params], [b for o in optimizers for b in o.buffers]
  def __getitem__(self, i): return self.optimizers[i]
  def zero_grad(self) -> None:
    for o in self.optimizers: o.zero_grad()
  def schedule_step(self) -> list[Tensor]:
    return [t for o in self.optimizers for t in o.schedule_step()]


class LARS(Optimizer):
  """SGD with momentum and layer-wise adaptive rates (tcoef=0 is plain SGD)."""
  def __init__(self, params: list[Tensor], lr: float = 0.001, momentum: float = 0.9, weight_decay: float = 1e-4,
               nesterov: bool = False, classic: bool = True, tcoef: float = 0.001):
    super().__init__(params, lr)
    self.momentum, self.wd, self.nesterov, self.classic, self.tcoef = momentum, weight_decay, nesterov, classic, tcoef
    self.b = [Tensor.zeros(*t.shape, dtype=t.dtype, device=t.device, requires_grad=False).contiguous().realize()
              for t in self.params] if self.momentum else []

  def _updates(self, grads):
    ups = []
    for i, (t, g) in enumerate(zip(self.params, grads)):
      if self.tcoef != 0:
        r1, r2 = t.detach().square().sum().sqrt(), g.square().sum().sqrt()
        r = (r1 > 0).where((r2 > 0).where(self.tcoef * r1 / (r2 + self.wd * r1), 1.0), 1.0)
      else:
        r = 1.0
      if self.wd: g = g + self.wd * t.detach()
      if not self.classic: g = g * r * self.lr
      if self.momentum:
        b = self.momentum * self.b[i] + g
        ups.append((self.b[i], b))
        g = (g + self.momentum * b) if self.nesterov else b
      if self.classic: g = g * r * self.lr
      ups.append((t, (t.detach() - g).cast(t.dtype)))
    return ups


def SGD(params: list[Tensor], lr: float = 0.001, momentum: float = 0.0, weight_decay: float = 0.0,
        nesterov: bool = False, classic: bool = False) -> LARS:
  """Stochastic gradient descent (PyTorch's SGD: momentum, nesterov, weight decay)."""
  return _named(LARS(params, lr, momentum, weight_decay, nesterov, classic, tcoef=0.0), "SGD")


class LAMB(Optimizer):
  """LAMB; adam=True gives Adam/AdamW (no trust ratio)."""
  def __init__(self, params: list[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
               weight_decay: float = 0.0, adam: bool = False):
    super().__init__(params, lr)
    self.b1, self.b2, self.eps, self.wd, self.adam = b1, b2, eps, weight_decay, adam
    self.b1_t, self.b2_t = _scalar_buffer(1.0, self.device), _scalar_buffer(1.0, self.device)
    self.m = [Tensor.zeros(*t.shape, dtype=dtypes.float32, device=t.device, requires_grad=False).contiguous().realize()
              for t in self.params]
    self.v = [Tensor.zeros(*t.shape, dtype=dtypes.float32, device=t.device, requires_grad=False).contiguous().realize()
              for t in self.params]

  def _updates(self, grads):
    b1_t, b2_t = self.b1_t * self.b1, self.b2_t * self.b2
    ups = [(self.b1_t, b1_t), (self.b2_t, b2_t)]
    for i, (t, g) in enumerate(zip(self.params, grads)):
      g = g.float()
      m = self.b1 * self.m[i] + (1.0 - self.b1) * g
      v = self.b2 * self.v[i] + (1.0 - self.b2) * (g * g)
      ups += [(self.m[i], m), (self.v[i], v)]
      m_hat, v_hat = m / (1.0 - b1_t), v / (1.0 - b2_t)
      up = (m_hat / (v_hat.sqrt() + self.eps)) + self.wd * t.detach().float()
      if not self.adam:
        r1, r2 = t.detach().float().square().sum().sqrt(), up.square().sum().sqrt()
        r = (r1 > 0).where((r2 > 0).where(r1 / r2, 1.0), 1.0)
      else:
        r = 1.0
      ups.append((t, (t.detach() - self.lr * r * up).cast(t.dtype)))
    return ups


def AdamW(params: list[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.01) -> LAMB:
  """Adam with decoupled weight decay."""
  return _named(LAMB(params, lr, b1, b2, eps, weight_decay, adam=True), "AdamW")


def Adam(params: list[Tensor], lr: float = 0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> LAMB:
  """Adam."""
  return _named(LAMB(params, lr, b1, b2, eps, 0.0, adam=True), "Adam")


__all__ = ["Optimizer", "OptimizerGroup", "LARS", "SGD", "LAMB", "Adam", "AdamW"]
