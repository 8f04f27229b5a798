// Reading and writing safetensors files (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length, a JSON header {name: {dtype, shape, data_offsets}, __metadata__},
// then the raw little-endian tensor bytes. Guarantees: loading maps the file and checks every
// header fact before it creates a tensor, so a corrupt or truncated file is an fg::Error(Runtime)
// naming the file, the byte and the problem; saving writes the layout PyTorch's safetensors writes
// (byte for byte) to a temporary file in the same folder and renames it, so nothing is
// half-written.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "femtograd/tensor/tensor.h"

namespace fg {

// Every tensor of the file, by name, on `device` ("" = the default device). Supported dtypes:
// BOOL, U8, I8, I16, U16, I32, U32, I64, U64, F16, BF16, F32, F64, F8_E4M3, F8_E5M2.
std::map<std::string, Tensor> safe_load(const std::string& path, const std::string& device = "");

// The file's "__metadata__" strings (empty when it has none); checks the whole header.
std::map<std::string, std::string> safe_load_metadata(const std::string& path);

// Writes the tensors (realizing them as needed) and the metadata strings to `path`, atomically.
// Names and metadata must be valid UTF-8; "__metadata__" is not a tensor name.
void safe_save(const std::map<std::string, Tensor>& tensors, const std::string& path,
               const std::map<std::string, std::string>& metadata = {});

// "F32" for float32, ... ; throws fg::Error(Type) for a dtype safetensors cannot store.
const char* safetensors_dtype_name(DType dt);

}  // namespace fg
