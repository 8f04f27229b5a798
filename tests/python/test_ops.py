"""The device-op conformance suite: every case of op_cases.CASES on every available device, compared with
the reference by conformance.check_case. `pytest tests/python/test_ops.py -q` prints the case count."""
import pytest

from conformance import check_case
from op_cases import CASES


def available_devices() -> list:
  from femtograd import Device, Tensor, _C
  devs = []
  for d in _C.known_devices():
    if d == "NULL": continue
    try:
      Tensor([1.0], device=d).realize()
      devs.append(d)
    except Exception:  # a backend without its hardware
      pass
  return devs or [Device.DEFAULT]


DEVICES = available_devices()


def _param(c):
  marks = [pytest.mark.xfail(reason=f"known bug: {c.xfail}", strict=False)] if c.xfail else []
  return pytest.param(c, id=c.id, marks=marks)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_op(case, device):
  check_case(case, device)
