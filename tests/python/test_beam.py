"""BEAM=n from Python: Context(BEAM=...) searches the kernels of a realize (tiny shapes, one step)
and the results match numpy; a second process-local run reads the winners back."""
import numpy as np

from femtograd import Context, Tensor


def test_beam_matmul_and_softmax_match_numpy(tmp_path):
  rng = np.random.default_rng(0)
  a = rng.uniform(-1, 1, (8, 12)).astype(np.float32)
  b = rng.uniform(-1, 1, (12, 4)).astype(np.float32)
  with Context(BEAM=2, BEAM_MAX_STEPS=1, CACHEDIR=str(tmp_path)):
    got = (Tensor(a) @ Tensor(b)).numpy()
    sm = Tensor(a).softmax(-1).numpy()
  np.testing.assert_allclose(got, a @ b, rtol=1e-5, atol=1e-5)
  e = np.exp(a - a.max(-1, keepdims=True))
  np.testing.assert_allclose(sm, e / e.sum(-1, keepdims=True), rtol=1e-5, atol=1e-6)
  assert any((tmp_path / "beam").iterdir()), "winners are cached on disk under CACHEDIR/beam"
