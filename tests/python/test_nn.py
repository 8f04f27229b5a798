"""nn: layers, optimizers (one step checked against numpy's arithmetic), state dicts and safetensors files."""
import os
import tempfile

import numpy as np
import pytest

from femtograd import Tensor, dtypes, nn
from femtograd.nn.state import get_parameters, get_state_dict, load_state_dict, safe_load, safe_save


class Model:
  def __init__(self):
    self.l1 = nn.Linear(4, 8)
    self.norm = nn.LayerNorm(8)
    self.blocks = [nn.Linear(8, 8, bias=False), nn.Linear(8, 3)]

  def __call__(self, x):
    x = self.norm(self.l1(x).relu())
    return self.blocks[1](self.blocks[0](x).relu())


def test_state_dict_names_and_parameters():
  m = Model()
  sd = get_state_dict(m)
  assert sorted(sd) == ["blocks.0.weight", "blocks.1.bias", "blocks.1.weight", "l1.bias", "l1.weight", "norm.bias",
                        "norm.weight"]
  assert sd["l1.weight"].shape == (8, 4) and sd["blocks.1.bias"].shape == (3,)
  assert len(get_parameters(m)) == 7
  assert m(Tensor.ones(2, 4)).shape == (2, 3)


def test_safetensors_roundtrip_and_load_state_dict():
  m, m2 = Model(), Model()
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "model.safetensors")
    safe_save(get_state_dict(m), path, metadata={"step": 3})
    loaded = safe_load(path)
    assert sorted(loaded) == sorted(get_state_dict(m))
    assert nn.state.safe_load_metadata(path) == {"step": "3"}
    load_state_dict(m2, loaded)
  for k, v in get_state_dict(m).items():
    np.testing.assert_array_equal(get_state_dict(m2)[k].numpy(), v.numpy())
  x = Tensor.ones(2, 4)
  np.testing.assert_allclose(m2(x).numpy(), m(x).numpy(), rtol=1e-6)


def test_load_state_dict_errors():
  m = Model()
  sd = get_state_dict(Model())
  del sd["l1.bias"]
  with pytest.raises(KeyError): load_state_dict(m, sd, verbose=False)
  load_state_dict(m, sd, strict=False, verbose=False)
  sd = get_state_dict(Model())
  sd["l1.weight"] = Tensor.zeros(3, 3)
  with pytest.raises(ValueError, match="Shape mismatch"): load_state_dict(m, sd, verbose=False)


def test_safetensors_dtypes_roundtrip():
  ts = {"f16": Tensor([1.5, -2.0], dtype=dtypes.float16), "i8": Tensor([[1, -2]], dtype=dtypes.int8),
        "b": Tensor([True, False]), "u64": Tensor([2**63 + 5], dtype=dtypes.uint64), "bf": Tensor([0.5], dtype=dtypes.bfloat16)}
  with tempfile.TemporaryDirectory() as d:
    path = os.path.join(d, "t.safetensors")
    safe_save(ts, path)
    back = safe_load(path)
  for k, t in ts.items():
    assert back[k].dtype == t.dtype and back[k].shape == t.shape and back[k].tolist() == t.tolist()


def _params(w0, b0):
  w = Tensor(w0.copy(), requires_grad=True)
  b = Tensor(b0.copy(), requires_grad=True)
  return w, b


def _grads(w0, b0, x, y):
  # loss = mean((x @ w.T + b - y)^2): the gradient in numpy
  r = x @ w0.T + b0 - y
  return 2 * r.T @ x / r.size, 2 * r.sum(0) / r.size


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "sgd_nesterov_wd", "adam", "adamw"])
def test_optimizer_steps_match_numpy(name):
  rng = np.random.default_rng(0)
  w0, b0 = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(3).astype(np.float32)
  x, y = rng.standard_normal((5, 4)).astype(np.float32), rng.standard_normal((5, 3)).astype(np.float32)
  w, b = _params(w0, b0)
  lr = 0.1
  opt = {"sgd": lambda p: nn.optim.SGD(p, lr=lr), "sgd_momentum": lambda p: nn.optim.SGD(p, lr=lr, momentum=0.9),
         "sgd_nesterov_wd": lambda p: nn.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True, weight_decay=0.01),
         "adam": lambda p: nn.optim.Adam(p, lr=lr), "adamw": lambda p: nn.optim.AdamW(p, lr=lr, weight_decay=0.1)}[name]([w, b])
  ref = [w0.astype(np.float64), b0.astype(np.float64)]
  state = {"m": [0, 0], "v": [0, 0], "buf": [0, 0]}
  for step in range(1, 4):
    opt.zero_grad()
    ((x_t := Tensor(x)).linear(w.T, b) - Tensor(y)).square().mean().backward()
    opt.step()
    gs = _grads(ref[0], ref[1], x, y)
    for i, g in enumerate(gs):
      if name.startswith("sgd"):
        if name == "sgd_nesterov_wd": g = g + 0.01 * ref[i]
        if name == "sgd":
          ref[i] = ref[i] - lr * g
        else:
          state["buf"][i] = 0.9 * state["buf"][i] + g
          upd = g + 0.9 * state["buf"][i] if name == "sgd_nesterov_wd" else state["buf"][i]
          ref[i] = ref[i] - lr * upd
      else:
        state["m"][i] = 0.9 * state["m"][i] + 0.1 * g
        state["v"][i] = 0.999 * state["v"][i] + 0.001 * g * g
        mh, vh = state["m"][i] / (1 - 0.9 ** step), state["v"][i] / (1 - 0.999 ** step)
        up = mh / (np.sqrt(vh) + 1e-8) + (0.1 * ref[i] if name == "adamw" else 0)
        ref[i] = ref[i] - lr * up
    np.testing.assert_allclose(w.numpy(), ref[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b.numpy(), ref[1], rtol=1e-4, atol=1e-5)
  assert w.requires_grad is True and w.grad is not None


def test_optimizer_skips_tensors_set_to_no_grad():
  bn = nn.BatchNorm(3)
  opt = nn.optim.SGD(get_parameters(bn), lr=0.1)
  assert len(opt.params) == 2 and len(opt.buffers) == 3  # running stats and the batch counter are buffers
  with pytest.raises(ValueError): nn.optim.SGD([Tensor([1.0], requires_grad=False)])


def test_layers():
  x = Tensor(np.random.default_rng(0).standard_normal((4, 3, 5, 5)).astype(np.float32))
  bn = nn.BatchNorm2d(3)
  with Tensor.train():
    y = bn(x)
  yn = y.numpy()
  np.testing.assert_allclose(yn.mean(axis=(0, 2, 3)), 0, atol=1e-5)
  np.testing.assert_allclose(yn.std(axis=(0, 2, 3)), 1, atol=1e-2)
  np.testing.assert_allclose(bn.running_mean.numpy(), 0.1 * x.numpy().mean(axis=(0, 2, 3)), rtol=1e-4, atol=1e-6)
  assert bn.num_batches_tracked.tolist() == [1]
  ln = nn.LayerNorm(5)
  np.testing.assert_allclose(ln(x).numpy().mean(-1), 0, atol=1e-5)
  assert nn.RMSNorm(5)(x).shape == x.shape and nn.GroupNorm(3, 3)(x).shape == x.shape
  assert nn.InstanceNorm(3)(x).shape == x.shape and nn.LayerNorm2d(3)(x).shape == x.shape
  emb = nn.Embedding(10, 4)
  idx = Tensor([[1, 2], [9, 0]])
  np.testing.assert_allclose(emb(idx).numpy(), emb.weight.numpy()[idx.numpy()])
  if hasattr(Tensor, "conv2d"):
    c = nn.Conv2d(3, 4, 3, padding=1)
    assert c(x).shape == (4, 4, 5, 5) and c.weight.shape == (4, 3, 3, 3) and c.bias.shape == (4,)
    assert nn.Conv2d(3, 2, (3, 1), stride=2)(x).shape == (4, 2, 2, 3)
    assert nn.Conv1d(3, 2, 3)(x.reshape(4, 3, 25)).shape == (4, 2, 23)
    assert nn.ConvTranspose2d(3, 2, 2, stride=2)(x).shape == (4, 2, 10, 10)
    assert sorted(get_state_dict(c)) == ["bias", "weight"]
  else:
    with pytest.raises(NotImplementedError, match="convolution"): nn.Conv2d(3, 4, 3)


def test_dropout_only_in_training():
  x = Tensor.ones(1000)
  assert x.dropout(0.5).tolist() == x.tolist()
  if hasattr(Tensor, "rand"):
    with Tensor.train():
      d = x.dropout(0.5).numpy()
    assert set(np.unique(d)) <= {0.0, 2.0} and 300 < (d == 0).sum() < 700
