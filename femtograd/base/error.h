// The one error type of femtograd. Every message starts with the operation and then gives the
// facts: "reshape: cannot reshape (3, 4) to (5,)". The kind maps to Python's exception classes.
#pragma once
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fg {

enum class ErrorKind : uint8_t {
  Value,           // bad argument value or shape (Python ValueError)
  Type,            // bad dtype or argument type (Python TypeError)
  Index,           // index out of range (Python IndexError)
  Runtime,         // device, compiler or file failure (Python RuntimeError)
  NotImplemented,  // valid request that is not supported yet (Python NotImplementedError)
  Internal,        // a broken invariant inside femtograd: a bug to report
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string_view op, const std::string& facts)
      : std::runtime_error(std::string(op) + ": " + facts), kind_(kind), op_(op) {}
  ErrorKind kind() const { return kind_; }
  const std::string& op() const { return op_; }

 private:
  ErrorKind kind_;
  std::string op_;
};

// Concatenates anything printable with operator<< into one string.
template <class... A>
std::string cat(const A&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  return os.str();
}

// "(3, 4)" like Python prints a shape tuple; "(5,)" for one element.
std::string shape_str(const std::vector<int64_t>& shape);

template <class... A>
[[noreturn]] void fail(ErrorKind kind, std::string_view op, const A&... facts) {
  throw Error(kind, op, cat(facts...));
}

}  // namespace fg

// Checks a user-facing condition; the message parts are only built on failure.
#define FG_CHECK(cond, kind, op, ...) \
  do {                                \
    if (!(cond)) [[unlikely]]         \
      ::fg::fail(kind, op, __VA_ARGS__); \
  } while (0)
// Checks an internal invariant: failure is a femtograd bug.
#define FG_ASSERT(cond, ...)                                                              \
  do {                                                                                    \
    if (!(cond)) [[unlikely]]                                                             \
      ::fg::fail(::fg::ErrorKind::Internal, "internal", #cond, " failed at ", __FILE__, ":", \
                 __LINE__, " " __VA_OPT__(, ) __VA_ARGS__);                               \
  } while (0)
