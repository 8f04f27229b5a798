"""Datasets read from local files (nothing is downloaded), as in tinygrad.nn.datasets."""
from __future__ import annotations

from femtograd import _C
from femtograd.tensor import Tensor

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


def mnist(device: str | None = None, fashion: bool = False, dir: str | None = None):
  """(X_train, Y_train, X_test, Y_test): X uint8 (N, 1, 28, 28), Y uint8 (N,), read from IDX files (plain or
  .gz) in dir. fashion=True defaults dir to Debian's dataset-fashion-mnist; MNIST digits need dir."""
  if dir is None:
    if not fashion:
      raise RuntimeError("mnist: the MNIST digits are not installed with femtograd; pass dir= (a folder of IDX "
                         "files) or use fashion=True (Debian's dataset-fashion-mnist)")
    dir = FASHION_MNIST_DIR
  return _C.fashion_mnist(dir, device)


def load_idx(path: str, device: str | None = None) -> Tensor:
  """An IDX file as a tensor of its dtype and shape."""
  return _C.load_idx(path, device)
