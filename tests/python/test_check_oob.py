"""CHECK_OOB=1 over the op conformance suite: z3 proves every load and store of every kernel the
cases run (forward and backward) inside its buffer, or the case fails naming kernel, buffer and a
counterexample. Skipped when femtograd was built without z3."""
import pytest

from conformance import check_case
from op_cases import CASES
from femtograd import Context, Device, Tensor


def _z3_available() -> bool:
  try:
    with Context(CHECK_OOB=1):
      (Tensor([1.0, 2.0]) + 1).realize()
    return True
  except NotImplementedError:  # built without z3
    return False


def _param(c):
  marks = []
  if c.xfail: marks.append(pytest.mark.xfail(reason=f"known bug: {c.xfail}", strict=False))
  return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.skipif(not _z3_available(), reason="femtograd built without z3")
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_op_in_bounds(case):
  with Context(CHECK_OOB=1):
    check_case(case, Device.DEFAULT)
