// The renderers by language name: the one place that maps a device's renderer() to a function.
#pragma once
#include <string>

#include "femtograd/codegen/codegen.h"

namespace fg {

// lang: "c" or "cuda"; throws Error(NotImplemented) naming an unknown language
std::string render(const std::string& lang, const KernelProgram& k);

}  // namespace fg
