// The arg of a UOp: a small tagged value. Equality is exact (doubles compare by bits, so 0.0 and
// -0.0 are different constants and NaN equals itself), which is what hash-consing needs.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "femtograd/ir/ops.h"

namespace fg {

struct ReduceArg {  // REDUCE_AXIS / REDUCE: the combining op and (tensor level) the axes
  Op op;
  std::vector<int64_t> axes;
  bool operator==(const ReduceArg&) const = default;
};

struct VarArg {  // DEFINE_VAR: an integer known at run time, inside [min, max]
  std::string name;
  int64_t min, max;
  bool operator==(const VarArg&) const = default;
};

// Upper layers attach structured data (kernel info, tensor-core descriptions) through this.
struct ArgObject {
  virtual ~ArgObject() = default;
  virtual uint64_t hash() const = 0;
  virtual bool equals(const ArgObject& o) const = 0;
  virtual std::string str() const = 0;
};

class Arg {
 public:
  using Ints = std::vector<int64_t>;
  using Value = std::variant<std::monostate, bool, int64_t, double, std::string, Ints, ReduceArg,
                             VarArg, std::shared_ptr<const ArgObject>>;

  Arg() = default;
  Arg(bool b) : v_(b) {}
  Arg(int v) : v_(int64_t(v)) {}
  Arg(int64_t v) : v_(v) {}
  Arg(uint64_t v) : v_(static_cast<int64_t>(v)) {}  // stored as its bits
  Arg(double v) : v_(v) {}
  Arg(const char* s) : v_(std::string(s)) {}
  Arg(std::string s) : v_(std::move(s)) {}
  Arg(Ints v) : v_(std::move(v)) {}
  Arg(std::initializer_list<int64_t> v) : v_(Ints(v)) {}
  Arg(ReduceArg r) : v_(std::move(r)) {}
  Arg(VarArg v) : v_(std::move(v)) {}
  Arg(std::shared_ptr<const ArgObject> o) : v_(std::move(o)) {}

  bool none() const { return v_.index() == 0; }
  bool is_bool() const { return std::holds_alternative<bool>(v_); }
  bool is_int() const { return std::holds_alternative<int64_t>(v_); }
  bool is_float() const { return std::holds_alternative<double>(v_); }
  bool is_number() const { return is_bool() || is_int() || is_float(); }
  bool is_str() const { return std::holds_alternative<std::string>(v_); }
  bool is_ints() const { return std::holds_alternative<Ints>(v_); }

  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_float() const { return std::get<double>(v_); }
  // any number as a double / as an int64 (floats truncate)
  double to_double() const;
  int64_t to_int() const;
  const std::string& as_str() const { return std::get<std::string>(v_); }
  const Ints& as_ints() const { return std::get<Ints>(v_); }
  const ReduceArg& as_reduce() const { return std::get<ReduceArg>(v_); }
  const VarArg& as_var() const { return std::get<VarArg>(v_); }
  template <class T>
  const T* as_object() const {
    auto* p = std::get_if<std::shared_ptr<const ArgObject>>(&v_);
    return p ? dynamic_cast<const T*>(p->get()) : nullptr;
  }
  const Value& value() const { return v_; }

  uint64_t hash() const;
  bool operator==(const Arg& o) const;
  std::string str() const;

 private:
  Value v_;
};

}  // namespace fg
