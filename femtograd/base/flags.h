// Environment flags: each declared once in flags.def with its default and help text, read from
// the environment at first use, and overridable in a scope with Context.
#pragma once
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace fg {

enum class Flag : uint16_t {
#define FLAG_INT(name, def, help) name,
#define FLAG_STR(name, def, help) name,
#include "femtograd/base/flags.def"
#undef FLAG_INT
#undef FLAG_STR
  COUNT
};

struct FlagInfo {
  const char* name;
  bool is_string;
  const char* default_text;
  const char* help;
};
// one entry per flag in declaration order
const FlagInfo* flag_table(int* count);

int64_t getenv_int(Flag f);           // integer flags
std::string getenv_str(Flag f);       // string flags (integers print as text)
// looks a flag up by name; throws Error(Value) naming the flag when unknown
Flag flag_by_name(std::string_view name);

// Scoped override: Context ctx{{"DEBUG", 2}, {"DEV", "CPU"}}; restores the old values on exit.
class Context {
 public:
  using Value = std::variant<int64_t, std::string>;
  struct Setting {
    std::string name;
    Value value;
    Setting(std::string n, int64_t v) : name(std::move(n)), value(v) {}
    Setting(std::string n, int v) : name(std::move(n)), value(int64_t(v)) {}
    Setting(std::string n, const char* v) : name(std::move(n)), value(std::string(v)) {}
    Setting(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {}
  };
  Context(std::initializer_list<Setting> settings);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

 private:
  std::vector<std::pair<Flag, Value>> saved_;
};

}  // namespace fg
