// Bindings of the device registry: names (default, known, canonical), synchronize, and the memory
// counters of each device's caching allocator.
#include "common.h"
#include "femtograd/runtime/device.h"

namespace fgpy {

void init_device(nb::module_& m) {
  m.def("default_device", &fg::default_device,
        "The default device: the DEV flag when set, else the best available (\"CPU\").");
  m.def("known_devices", &fg::known_devices, "Every device name in the registry, in order.");
  m.def("canonical_device", [](const std::string& name) { return fg::canonical_device(name); }, "name"_a,
        "The canonical spelling of a device name (\"cpu\" -> \"CPU\"); unknown names are a ValueError.");
  m.def("synchronize", [](const std::string& name) {
    nb::gil_scoped_release nogil;
    fg::get_device(name).synchronize();
  }, "device"_a, "Waits until the device has finished its queued work.");
  m.def("renderer", [](const std::string& name) { return fg::get_device(name).renderer(); }, "device"_a,
        "The language the device's kernels are rendered in (\"c\" for CPU).");
  m.def("memory_stats", [](const std::string& name) {
    fg::MemStats s = fg::get_device(name).allocator().stats();
    nb::dict d;
    d["in_use"] = s.in_use;
    d["cached"] = s.cached;
    d["peak"] = s.peak;
    d["raw_allocs"] = s.raw_allocs;
    d["reuses"] = s.reuses;
    d["live_blocks"] = s.live_blocks;
    return d;
  }, "device"_a, "The caching allocator's counters: in_use, cached, peak (bytes), raw_allocs, reuses, live_blocks.");
  m.def("free_cache", [](const std::string& name) { fg::get_device(name).allocator().free_cache(); }, "device"_a,
        "Returns the device's cached free blocks to the system.");
}

}  // namespace fgpy
