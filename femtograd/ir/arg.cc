#include "femtograd/ir/arg.h"

#include <bit>
#include <cstring>
#include <sstream>

#include "femtograd/base/hash.h"

namespace fg {

double Arg::to_double() const {
  if (is_bool()) return as_bool() ? 1.0 : 0.0;
  if (is_int()) return static_cast<double>(as_int());
  return as_float();
}

int64_t Arg::to_int() const {
  if (is_bool()) return as_bool();
  if (is_int()) return as_int();
  return static_cast<int64_t>(as_float());
}

namespace {
uint64_t hash_ints(const Arg::Ints& v, uint64_t h) {
  for (int64_t x : v) h = hash_combine(h, static_cast<uint64_t>(x));
  return h;
}
}  // namespace

uint64_t Arg::hash() const {
  uint64_t h = hash_mix(v_.index() + 1);
  switch (v_.index()) {
    case 0: return h;
    case 1: return hash_combine(h, as_bool());
    case 2: return hash_combine(h, static_cast<uint64_t>(as_int()));
    case 3: return hash_combine(h, std::bit_cast<uint64_t>(as_float()));
    case 4: return hash_combine(h, hash_str(as_str()));
    case 5: return hash_ints(as_ints(), h);
    case 6: return hash_ints(as_reduce().axes, hash_combine(h, static_cast<uint64_t>(as_reduce().op)));
    case 7: {
      const VarArg& va = as_var();
      return hash_combine(hash_combine(hash_combine(h, hash_str(va.name)), va.min), va.max);
    }
    default: return hash_combine(h, std::get<8>(v_)->hash());
  }
}

bool Arg::operator==(const Arg& o) const {
  if (v_.index() != o.v_.index()) return false;
  if (is_float()) return std::bit_cast<uint64_t>(as_float()) == std::bit_cast<uint64_t>(o.as_float());
  if (v_.index() == 8) {
    const auto& a = std::get<8>(v_);
    const auto& b = std::get<8>(o.v_);
    return a == b || (a && b && a->equals(*b));
  }
  return v_ == o.v_;
}

std::string Arg::str() const {
  std::ostringstream os;
  switch (v_.index()) {
    case 0: return "None";
    case 1: return as_bool() ? "True" : "False";
    case 2: return std::to_string(as_int());
    case 3: {
      os.precision(17);
      os << as_float();
      std::string s = os.str();
      if (s.find_first_of(".einn") == std::string::npos) s += ".0";
      return s;
    }
    case 4: return "'" + as_str() + "'";
    case 5: {
      os << "(";
      const Ints& v = as_ints();
      for (size_t i = 0; i < v.size(); i++) os << (i ? ", " : "") << v[i];
      os << (v.size() == 1 ? ",)" : ")");
      return os.str();
    }
    case 6: {
      os << op_name(as_reduce().op) << " over " << Arg(as_reduce().axes).str();
      return os.str();
    }
    case 7: {
      const VarArg& va = as_var();
      os << va.name << " in [" << va.min << ", " << va.max << "]";
      return os.str();
    }
    default: return std::get<8>(v_) ? std::get<8>(v_)->str() : "null";
  }
}

}  // namespace fg
