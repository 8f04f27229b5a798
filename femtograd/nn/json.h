// A small strict JSON reader and string quoting, for file headers (safetensors). It accepts exactly
// RFC 8259 JSON except numbers with a fraction or exponent (headers hold only integers); strings
// are checked as UTF-8 and \u escapes (surrogate pairs included) decoded; duplicate keys are
// errors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fg::json {

struct Value {
  enum class Kind : uint8_t { Null, Bool, Int, String, Array, Object };
  Kind kind = Kind::Null;
  bool b = false;
  int64_t i = 0;
  std::string s;
  std::vector<Value> arr;
  std::vector<std::pair<std::string, Value>> obj;  // in text order; keys are unique
  size_t pos = 0;                                  // byte offset of the value in the text

  const Value* find(std::string_view key) const;  // nullptr when absent (objects only)
  static const char* kind_name(Kind k);           // "an object", "a string", ...
};

// Thrown by parse(): `pos` is the byte offset in the text where the problem was found.
struct ParseError : std::runtime_error {
  size_t pos;
  ParseError(size_t p, const std::string& what) : std::runtime_error(what), pos(p) {}
};

// Parses one JSON value; only JSON whitespace may follow it. Nesting deeper than 64 is an error.
Value parse(std::string_view text);

// s as a JSON string literal with quotes; escapes '"', '\\' and control characters.
std::string quote(std::string_view s);
// true when s is well-formed UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF)
bool valid_utf8(std::string_view s);

}  // namespace fg::json
