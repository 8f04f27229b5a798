"""VIZ in a real browser: Debian's Chromium (headless) loads the page served by femtograd on
127.0.0.1, clicks a rewrite in the list and steps through its rules, and the test reads what the
page shows (the DOM) and takes a screenshot. Skipped without Chromium."""
import json
import re
import shutil
import struct
import subprocess
import urllib.request

import pytest

from femtograd import Tensor, _C

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _text(dom: str, id_: str) -> str:
  m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(id_), dom)
  return m.group(1) if m else ""


def _browser(url: str, *extra: str) -> subprocess.CompletedProcess:
  return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=8000",
                         *extra, url], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def viz_server():
  _C.viz_clear()
  _C.viz_enable()
  try:
    a = Tensor.rand(16, 8)
    w = Tensor.rand(8, 4, requires_grad=True)
    ((a @ w).relu() * 2).sum().backward()
    w.grad.numpy()
  finally:
    _C.viz_disable()
  port = _C.viz_serve(0)
  yield f"http://127.0.0.1:{port}"
  _C.viz_stop()


def test_viz_api(viz_server):
  rewrites = json.loads(urllib.request.urlopen(viz_server + "/api/rewrites").read())
  assert rewrites and all(r["fired"] > 0 for r in rewrites)
  one = json.loads(urllib.request.urlopen(viz_server + "/api/rewrite/0").read())
  assert one["pass"] == rewrites[0]["pass"] and one["before"] and one["after"]
  assert all(re.fullmatch(r"[\w.]+\.cc:\d+", r["where"]) for r in one["rules"]), one["rules"]
  kernels = json.loads(urllib.request.urlopen(viz_server + "/api/kernels").read())
  assert kernels and all(re.search(r"void (__launch_bounds__\(\d+\) )?" + k["name"] + r"\(", k["source"]) for k in kernels)
  with pytest.raises(urllib.error.HTTPError):
    urllib.request.urlopen(viz_server + "/api/rewrite/999999")


@pytest.mark.skipif(CHROMIUM is None, reason="needs Chromium (apt install chromium)")
def test_viz_in_chromium(viz_server, tmp_path):
  rewrites = json.loads(urllib.request.urlopen(viz_server + "/api/rewrites").read())
  pick = max(rewrites, key=lambda r: r["fired"])  # the pass with the most steps
  detail = json.loads(urllib.request.urlopen(viz_server + f"/api/rewrite/{pick['i']}").read())
  # click the pass in the list, then step forward once
  out = _browser(viz_server + f"/#clicks=rw-{pick['i']},next", "--dump-dom")
  assert out.returncode == 0, out.stderr[-2000:]
  dom = out.stdout
  assert 'data-ready="1"' in dom, dom[-2000:]
  assert _text(dom, "pass-title").startswith(f"#{pick['i']} {pick['pass']}"), _text(dom, "pass-title")
  k = min(1, len(detail["rules"]) - 1)
  assert _text(dom, "step-info") == f"step {k + 1} of {len(detail['rules'])}"
  assert _text(dom, "rule-where") == detail["rules"][k]["where"]
  assert _text(dom, "rule-before") == detail["rules"][k]["before"].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
  assert dom.count('class="sel"') == 1  # the clicked pass is the selected one
  # the kernels tab shows a kernel's generated source
  out = _browser(viz_server + "/#kernel=0", "--dump-dom")
  assert "void " in _text(out.stdout, "kernel-source") or "void " in out.stdout
  # a screenshot of the page at a known size
  shot = tmp_path / "viz.png"
  out = _browser(viz_server + f"/#rewrite={pick['i']}&step=0", f"--screenshot={shot}", "--window-size=1200,800")
  assert shot.exists(), out.stderr[-2000:]
  data = shot.read_bytes()
  assert data[:8] == b"\x89PNG\r\n\x1a\n"
  w, h = struct.unpack(">II", data[16:24])
  assert (w, h) == (1200, 800) and len(data) > 10000
