#include "femtograd/render/render_util.h"

#include <cstdint>
#include <cstdio>

namespace fg {

bool is_emulated(ScalarType s) {
  return s == ScalarType::Float16 || s == ScalarType::BFloat16 || s == ScalarType::FP8E4M3 ||
         s == ScalarType::FP8E5M2;
}

std::string short_name(ScalarType s) {
  switch (s) {
    case ScalarType::Float16: return "f16";
    case ScalarType::BFloat16: return "bf16";
    case ScalarType::FP8E4M3: return "e4m3";
    case ScalarType::FP8E5M2: return "e5m2";
    default: return "";
  }
}

std::string float_literal(double v, bool f64) {
  char buf[64];
  if (f64) std::snprintf(buf, sizeof buf, "%.17g", v);
  else std::snprintf(buf, sizeof buf, "%.9gf", v);
  std::string s = buf;
  if (s.find_first_of(".e") == std::string::npos) s.insert(s.size() - (f64 ? 0 : 1), ".0");
  return s;
}

std::string int_literal(DType dt, int64_t v, bool index_is_int) {
  if (dt.scalar == ScalarType::UInt64) return std::to_string(static_cast<uint64_t>(v)) + "ULL";
  if (dt.is_unsigned()) return std::to_string(v) + "u";
  if (dt.scalar == ScalarType::Index && index_is_int) return std::to_string(v);
  if (v == INT64_MIN) return "(-9223372036854775807LL-1)";
  if (dt.scalar == ScalarType::Int64 || dt.scalar == ScalarType::Index) return std::to_string(v) + "LL";
  if (dt.scalar == ScalarType::Int32 && v == INT32_MIN) return "(-2147483647-1)";
  return std::to_string(v);
}

std::vector<bool> written_params(const KernelProgram& k) {
  std::vector<bool> written(k.params.size(), false);
  for (const UOpRef& l : k.lines)
    if (l->op == Op::STORE && l->src(0)->op == Op::INDEX && l->src(0)->src(0)->op == Op::DEFINE_GLOBAL)
      written[l->src(0)->src(0)->arg.as_int()] = true;
  return written;
}

}  // namespace fg
