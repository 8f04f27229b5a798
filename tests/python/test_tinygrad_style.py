"""A tinygrad script moves over by changing its import line: scripts/tinygrad_style_train.py, trained
for a few steps on random data, must learn (loss falls, test accuracy well above chance) and its TinyJit
must capture and replay the train step."""
import os
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
