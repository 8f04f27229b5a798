"""Devices, as in tinygrad.device: ``Device.DEFAULT``, ``Device.canonicalize(name)``, ``Device[name]``."""
from __future__ import annotations

from femtograd import _C


class _DeviceHandle:
  """One opened device: its name, synchronize() and memory counters."""
  def __init__(self, name: str): self.device = name
  def synchronize(self) -> None: _C.synchronize(self.device)
  @property
  def renderer(self) -> str: return _C.renderer(self.device)
  def memory_stats(self) -> dict: return _C.memory_stats(self.device)
  def free_cache(self) -> None: _C.free_cache(self.device)
  def __repr__(self): return f"<Device {self.device}>"


class _Device:
  """The device registry. ``Device.DEFAULT`` is the DEV flag if set, else CPU; assigning it sets DEV for the
  rest of the process."""
  def __init__(self): self._overrides: list = []
  @property
  def DEFAULT(self) -> str: return _C.canonical_device(_C.default_device())
  @DEFAULT.setter
  def DEFAULT(self, name: str) -> None:
    self._overrides.append(_C.Context({"DEV": _C.canonical_device(name)}))  # held for the process
  def canonicalize(self, name: str | None) -> str:
    return self.DEFAULT if name is None else _C.canonical_device(name)
  def __getitem__(self, name: str) -> _DeviceHandle: return _DeviceHandle(self.canonicalize(name))
  @property
  def _devices(self) -> list[str]: return _C.known_devices()
  def get_available_devices(self):
    yield from (d for d in _C.known_devices() if d != "NULL")
  def __repr__(self): return f"<Device DEFAULT={self.DEFAULT} known={_C.known_devices()}>"


Device = _Device()
