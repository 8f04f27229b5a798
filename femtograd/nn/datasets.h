// Datasets read from local files (nothing is downloaded): the IDX format of MNIST-like data, plain
// or gzip-compressed, and Fashion-MNIST as Debian's `dataset-fashion-mnist` package installs it.
// Guarantees: a missing, truncated or corrupt file is an fg::Error(Runtime) naming the file, the
// byte offset and the problem; nothing is read past what the header declares.
#pragma once
#include <string>

#include "femtograd/tensor/tensor.h"

namespace fg {

// An IDX file (magic 00 00 <type> <ndims>, ndims big-endian uint32 sizes, big-endian data) as a
// tensor of its dtype and shape: type 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32,
// 0x0E float64. gzip files (by their magic bytes, whatever the name) are decompressed with zlib;
// byte offsets in their errors count bytes of the uncompressed data.
Tensor load_idx(const std::string& path, const std::string& device = "");

struct Dataset {
  Tensor X_train, Y_train, X_test, Y_test;
};

// Fashion-MNIST from `dir`: X uint8 (N, 1, 28, 28), Y uint8 (N,) with classes 0-9; 60000 train
// and 10000 test images. Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-
// idx3-ubyte and t10k-labels-idx1-ubyte, each plain or with .gz appended.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
Dataset fashion_mnist(const std::string& dir = kFashionMnistDir, const std::string& device = "");

}  // namespace fg
