# Kernel metadata from Python: the kernels of a small conv-net training step name the layers, the
# optimizer step and the Python lines that called them (DEBUG=2), forward and backward.
import inspect

from femtograd import Context, Tensor, nn
from femtograd.nn import optim


def _line() -> int:
  return inspect.currentframe().f_back.f_lineno


def test_conv_net_training_step_metadata(capfd):
  Tensor.manual_seed(0)
  conv, fc = nn.Conv2d(1, 4, 3), nn.Linear(36, 10)
  opt = optim.Adam([conv.weight, conv.bias, fc.weight, fc.bias], lr=1e-3)
  x, y = Tensor.rand(2, 1, 8, 8).realize(), Tensor([3, 7])
  Tensor.realize(conv.weight, conv.bias, fc.weight, fc.bias)
  capfd.readouterr()
  with Context(DEBUG=2):
    opt.zero_grad()
    conv_line = _line() + 1
    h = conv(x).relu().max_pool2d(2).reshape(2, -1)
    fc_line = _line() + 1
    loss = fc(h).sparse_categorical_crossentropy(y)
    bw_line = _line() + 1
    loss.backward()
    step_line = _line() + 1
    opt.step()
  lines = [l for l in capfd.readouterr().err.splitlines() if l.startswith("***")]
  assert len(lines) > 10
  text = "\n".join(lines)
  assert f"Conv2d@test_metadata.py:{conv_line}" in text, text
  assert f"Conv2d(bw)@test_metadata.py:{conv_line}" in text, text
  assert f"Linear@test_metadata.py:{fc_line}" in text, text
  assert f"Linear(bw)@test_metadata.py:{fc_line}" in text, text
  assert f"Adam.step@test_metadata.py:{step_line}" in text, text
  # bare tensor ops are named by their op, with the line that called them
  assert f"max(bw)@test_metadata.py:{conv_line}" in text, text
  assert all("[" in l for l in lines), text  # every kernel names where it came from
  del bw_line


def test_op_scope_names_a_block(capfd):
  a = Tensor([1.0, 2.0, 3.0]).realize()
  from femtograd import _C
  capfd.readouterr()
  with Context(DEBUG=2):
    line = _line() + 1  # a scope is named where it is entered
    with _C.op_scope("my_block"):
      (a * 2).exp().sum().realize()
  err = capfd.readouterr().err
  assert f"[my_block@test_metadata.py:{line}]" in err, err
