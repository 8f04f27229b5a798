// Bindings of nn/: safetensors files (load, metadata, atomic save) and the local datasets (IDX
// files, Fashion-MNIST from Debian's dataset-fashion-mnist).
#include <map>

#include <nanobind/stl/map.h>

#include "common.h"
#include "femtograd/nn/datasets.h"
#include "femtograd/nn/safetensors.h"

namespace fgpy {

void init_nn_state(nb::module_& m) {
  m.def("safe_load", [](const std::string& path, nb::handle device) {
    std::string dev = to_device(device);
    nb::gil_scoped_release nogil;
    return fg::safe_load(path, dev);
  }, "path"_a, "device"_a = nb::none(),
        "Every tensor of a safetensors file, by name (the file is mapped; corrupt files raise RuntimeError).");
  m.def("safe_load_metadata", &fg::safe_load_metadata, "path"_a,
        "The __metadata__ strings of a safetensors file (empty when it has none).");
  m.def("safe_save", [](const std::map<std::string, Tensor>& tensors, const std::string& path,
                        const std::map<std::string, std::string>& metadata) {
    nb::gil_scoped_release nogil;
    fg::safe_save(tensors, path, metadata);
  }, "tensors"_a, "path"_a, "metadata"_a = std::map<std::string, std::string>{},
        "Writes the tensors (realized as needed) to a safetensors file, atomically.");
  m.def("safetensors_dtype_name", &fg::safetensors_dtype_name, "dtype"_a,
        "The safetensors name of a dtype ('F32'); TypeError for a dtype the format cannot store.");

  m.def("load_idx", [](const std::string& path, nb::handle device) {
    std::string dev = to_device(device);
    nb::gil_scoped_release nogil;
    return fg::load_idx(path, dev);
  }, "path"_a, "device"_a = nb::none(), "An IDX file (plain or gzip) as a tensor of its dtype and shape.");
  m.def("fashion_mnist", [](const std::string& dir, nb::handle device) {
    std::string dev = to_device(device);
    fg::Dataset d;
    {
      nb::gil_scoped_release nogil;
      d = fg::fashion_mnist(dir, dev);
    }
    return nb::make_tuple(d.X_train, d.Y_train, d.X_test, d.Y_test);
  }, "dir"_a = std::string(fg::kFashionMnistDir), "device"_a = nb::none(),
        "Fashion-MNIST from a folder of IDX files: (X_train, Y_train, X_test, Y_test), X uint8 (N, 1, 28, 28), "
        "Y uint8 (N,).");
}

}  // namespace fgpy
