"""A tinygrad script moves over by changing its import line: scripts/tinygrad_style_train.py, trained
for a few steps on random data, must learn (loss falls, test accuracy well above chance) and its TinyJit
must capture and replay the train step. examples/beautiful_mnist.py (tinygrad's script) runs a few steps."""
import os
import re
import subprocess
import sys

import pytest

from femtograd import Tensor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "scripts"))


@pytest.mark.skipif(not (hasattr(Tensor, "randint") and hasattr(Tensor, "__getitem__") and hasattr(Tensor, "gather")),
                    reason="needs Tensor.randint and tensor indexing from the C++ core")
def test_tinygrad_style_training_script():
  import tinygrad_style_train
  losses, acc, train_step = tinygrad_style_train.main(steps=60)
  assert all(l == l for l in losses), "loss is NaN"
  first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
  assert last < 0.6 * first, f"the loss did not fall: {first:.3f} -> {last:.3f}"
  assert acc > 60, f"test accuracy {acc:.1f}% (chance is 25%)"
  if train_step._enabled: assert train_step.captured and train_step.kernel_count > 0


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"), reason="needs Debian's dataset-fashion-mnist")
def test_beautiful_mnist_example_runs():
  """examples/beautiful_mnist.py for a few steps (its default is the 1200-step training in docs/benchmarks.md):
  the one-cycle lr, the gathered batch, both TinyJits and the final test accuracy run."""
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  env = dict(os.environ, STEPS="3", BS="16", EVAL_EVERY="100", PYTHONPATH=os.path.join(root, "python"))
  r = subprocess.run([sys.executable, os.path.join(root, "examples", "beautiful_mnist.py")], env=env,
                     capture_output=True, text=True, timeout=600)
  assert r.returncode == 0, r.stderr[-2000:]
  accs = [float(a) for a in re.findall(r"test_accuracy:\s*([0-9.]+)%", r.stdout + r.stderr)]  # print, or tqdm's bar
  assert accs and 0 <= accs[-1] <= 100, (r.stdout + r.stderr)[-2000:]
