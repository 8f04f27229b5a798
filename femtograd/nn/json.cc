// The strict JSON reader: recursive descent over a string_view, depth-limited, positions kept
// for every value so that callers can name the byte where a file goes wrong.
#include "femtograd/nn/json.h"

#include <limits>
#include <tuple>

namespace fg::json {

namespace {

constexpr int kMaxDepth = 64;

// Length of the well-formed UTF-8 sequence starting at s[i], or 0 when it is malformed.
size_t utf8_len(std::string_view s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xc2 && c <= 0xdf)
    n = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    n = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    n = 4, cp = c & 0x07;
  else
    return 0;
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; k++) {
    auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) return 0;  // overlong
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

std::string show(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  static const char* hex = "0123456789abcdef";
  return std::string("byte 0x") + hex[u >> 4] + hex[u & 15];
}

class Parser {
 public:
  explicit Parser(std::string_view t) : t_(t) {}

  Value document() {
    skip_ws();
    Value v = value(0);
    skip_ws();
    if (i_ != t_.size()) fail("unexpected " + show(t_[i_]) + " after the JSON value");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw ParseError(i_, what); }
  [[noreturn]] void fail_at(size_t pos, const std::string& what) { throw ParseError(pos, what); }

  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r'))
      i_++;
  }
  char peek() {
    if (i_ >= t_.size()) fail("unexpected end of the text");
    return t_[i_];
  }
  void expect(char c, const char* context) {
    if (i_ >= t_.size())
      fail(std::string("unexpected end of the text, expected '") + c + "' " + context);
    if (t_[i_] != c) fail(std::string("expected '") + c + "' " + context + ", got " + show(t_[i_]));
    i_++;
  }

  Value value(int depth) {
    if (depth > kMaxDepth) fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    Value v;
    v.pos = i_;
    char c = peek();
    if (c == '{') {
      v.kind = Value::Kind::Object;
      i_++;
      skip_ws();
      if (peek() == '}') {
        i_++;
        return v;
      }
      for (;;) {
        skip_ws();
        size_t kpos = i_;
        if (peek() != '"') fail("expected a string key, got " + show(t_[i_]));
        std::string key = string();
        if (v.find(key)) fail_at(kpos, "duplicate key " + quote(key));
        skip_ws();
        expect(':', "after an object key");
        skip_ws();
        v.obj.emplace_back(std::move(key), value(depth + 1));
        skip_ws();
        if (peek() == ',') {
          i_++;
          continue;
        }
        expect('}', "or ',' in an object");
        return v;
      }
    }
    if (c == '[') {
      v.kind = Value::Kind::Array;
      i_++;
      skip_ws();
      if (peek() == ']') {
        i_++;
        return v;
      }
      for (;;) {
        skip_ws();
        v.arr.push_back(value(depth + 1));
        skip_ws();
        if (peek() == ',') {
          i_++;
          continue;
        }
        expect(']', "or ',' in an array");
        return v;
      }
    }
    if (c == '"') {
      v.kind = Value::Kind::String;
      v.s = string();
      return v;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Value::Kind::Int;
      v.i = integer();
      return v;
    }
    for (auto [word, kind, b] : {std::tuple{"true", Value::Kind::Bool, true},
                                 std::tuple{"false", Value::Kind::Bool, false},
                                 std::tuple{"null", Value::Kind::Null, false}}) {
      std::string_view w(word);
      if (t_.substr(i_, w.size()) == w) {
        i_ += w.size();
        v.kind = kind;
        v.b = b;
        return v;
      }
    }
    fail("unexpected " + show(c) + ", expected a JSON value");
  }

  int64_t integer() {
    size_t start = i_;
    bool neg = t_[i_] == '-';
    if (neg) i_++;
    if (i_ >= t_.size() || t_[i_] < '0' || t_[i_] > '9') fail("expected a digit after '-'");
    if (t_[i_] == '0' && i_ + 1 < t_.size() && t_[i_ + 1] >= '0' && t_[i_ + 1] <= '9')
      fail("numbers may not have leading zeros");
    // accumulate as a negative number so that INT64_MIN fits
    int64_t v = 0;
    constexpr int64_t lo = std::numeric_limits<int64_t>::min();
    while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') {
      int d = t_[i_] - '0';
      if (v < (lo + d) / 10) fail_at(start, "integer out of the 64-bit range");
      v = v * 10 - d;
      i_++;
    }
    if (i_ < t_.size() && (t_[i_] == '.' || t_[i_] == 'e' || t_[i_] == 'E'))
      fail("expected an integer, numbers with a fraction or exponent are not supported here");
    if (!neg) {
      if (v == lo) fail_at(start, "integer out of the 64-bit range");
      v = -v;
    }
    return v;
  }

  uint32_t hex4() {
    if (i_ + 4 > t_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++) {
      char c = t_[i_];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) fail("bad hex digit " + show(c) + " in a \\u escape");
      v = v * 16 + static_cast<uint32_t>(d);
      i_++;
    }
    return v;
  }

  std::string string() {
    i_++;  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= t_.size()) fail("unterminated string");
      auto c = static_cast<unsigned char>(t_[i_]);
      if (c == '"') {
        i_++;
        return out;
      }
      if (c < 0x20) fail("control character " + show(t_[i_]) + " in a string must be escaped");
      if (c == '\\') {
        size_t esc = i_;
        if (++i_ >= t_.size()) fail("unterminated escape");
        char e = t_[i_++];
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xdc00 && cp <= 0xdfff)
              fail_at(esc, "lone trailing surrogate in a \\u escape");
            if (cp >= 0xd800 && cp <= 0xdbff) {
              if (t_.substr(i_, 2) != "\\u") fail_at(esc, "lone leading surrogate in a \\u escape");
              i_ += 2;
              uint32_t lo = hex4();
              if (lo < 0xdc00 || lo > 0xdfff) fail_at(esc, "bad surrogate pair in a \\u escape");
              cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            put_utf8(out, cp);
            break;
          }
          default: fail_at(esc, "unknown escape '\\" + std::string(1, e) + "'");
        }
        continue;
      }
      size_t n = utf8_len(t_, i_);
      if (n == 0) fail("invalid UTF-8 in a string");
      out.append(t_.substr(i_, n));
      i_ += n;
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

const Value* Value::find(std::string_view key) const {
  for (auto& [k, v] : obj)
    if (k == key) return &v;
  return nullptr;
}

const char* Value::kind_name(Kind k) {
  switch (k) {
    case Kind::Null: return "null";
    case Kind::Bool: return "a boolean";
    case Kind::Int: return "an integer";
    case Kind::String: return "a string";
    case Kind::Array: return "an array";
    case Kind::Object: return "an object";
  }
  return "?";
}

Value parse(std::string_view text) { return Parser(text).document(); }

std::string quote(std::string_view s) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"')
      out += "\\\"";
    else if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\b')
      out += "\\b";
    else if (c == '\f')
      out += "\\f";
    else if (u < 0x20)
      out += std::string("\\u00") + hex[u >> 4] + hex[u & 15];
    else
      out += c;
  }
  return out + "\"";
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_len(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace fg::json
