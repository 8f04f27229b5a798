# pytest setup: the in-tree package (python/femtograd, with the module CMake builds into it) comes first
# on sys.path, so `make test` tests the checkout without installing it. An installed femtograd is used
# when the checkout has no built module.
import glob
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PKG = os.path.join(ROOT, "python")
if glob.glob(os.path.join(PKG, "femtograd", "_C*.so")) and PKG not in sys.path:
  sys.path.insert(0, PKG)


def pytest_report_header(config):
  try:
    from op_cases import CASES
    from conformance import reference_name
    return f"op conformance: {len(CASES)} cases over {len({c.op for c in CASES})} ops, reference: {reference_name()}"
  except Exception as e:  # the header must never break collection
    return f"op conformance: table not loaded ({e})"


def pytest_terminal_summary(terminalreporter):
  stats = {k: [r for r in terminalreporter.stats.get(k, []) if "test_ops.py::test_op" in getattr(r, "nodeid", "")]
           for k in ("passed", "failed", "skipped", "xfailed", "xpassed")}
  n = sum(len(v) for v in stats.values())
  if n:
    terminalreporter.write_line(f"op conformance: {n} cases run: {len(stats['passed'])} passed, "
                                f"{len(stats['failed'])} failed, {len(stats['skipped'])} skipped (op not in femtograd yet), "
                                f"{len(stats['xfailed'])} known bugs (xfail), {len(stats['xpassed'])} known bugs now passing")


def pytest_configure(config):
  try:
    import femtograd  # noqa: F401
  except ImportError as e:
    import pytest
    pytest.exit(f"tests/python: cannot import femtograd ({e}). Build the module first: `make build` "
                f"(needs nanobind: pip install nanobind) or `pip install .`", returncode=3)
