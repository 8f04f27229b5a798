#include "femtograd/base/flags.h"

#include <cstdlib>
#include <mutex>

#include "femtograd/base/error.h"

namespace fg {
namespace {

constexpr FlagInfo kFlags[] = {
#define FLAG_INT(name, def, help) {#name, false, #def, help},
#define FLAG_STR(name, def, help) {#name, true, def, help},
#include "femtograd/base/flags.def"
#undef FLAG_INT
#undef FLAG_STR
};
constexpr int kNumFlags = static_cast<int>(Flag::COUNT);
static_assert(std::size(kFlags) == kNumFlags, "one FlagInfo per Flag");

// Values are read from the environment once, at first use of any flag.
struct Store {
  std::atomic<int64_t> ints[kNumFlags];
  std::string strs[kNumFlags];
  std::mutex str_mutex;
  Store() {
    for (int i = 0; i < kNumFlags; i++) {
      const char* env = std::getenv(kFlags[i].name);
      std::string text = env ? env : kFlags[i].default_text;
      strs[i] = text;
      ints[i].store(kFlags[i].is_string ? 0 : parse_int(kFlags[i].name, text));
    }
  }
  static int64_t parse_int(const char* name, const std::string& text) {
    if (text.empty()) return 0;
    char* end = nullptr;
    long long v = std::strtoll(text.c_str(), &end, 10);
    if (*end != '\0')
      fail(ErrorKind::Value, "getenv", "flag ", name, " must be an integer, got '", text, "'");
    return v;
  }
};

Store& store() {
  static Store s;
  return s;
}
}  // namespace

const FlagInfo* flag_table(int* count) {
  *count = kNumFlags;
  return kFlags;
}

int64_t getenv_int(Flag f) { return store().ints[static_cast<int>(f)].load(std::memory_order_relaxed); }

std::string getenv_str(Flag f) {
  Store& s = store();
  std::lock_guard lock(s.str_mutex);
  return s.strs[static_cast<int>(f)];
}

Flag flag_by_name(std::string_view name) {
  for (int i = 0; i < kNumFlags; i++)
    if (name == kFlags[i].name) return static_cast<Flag>(i);
  fail(ErrorKind::Value, "Context", "unknown flag '", name, "' (flags are declared in base/flags.def)");
}

namespace {
void set_flag(Flag f, const Context::Value& v) {
  Store& s = store();
  int i = static_cast<int>(f);
  std::lock_guard lock(s.str_mutex);
  if (const auto* iv = std::get_if<int64_t>(&v)) {
    s.ints[i].store(*iv);
    s.strs[i] = std::to_string(*iv);
  } else {
    const auto& sv = std::get<std::string>(v);
    int64_t parsed = kFlags[i].is_string ? 0 : Store::parse_int(kFlags[i].name, sv);  // may throw: before any change
    s.strs[i] = sv;
    s.ints[i].store(parsed);
  }
}
}  // namespace

Context::Context(std::initializer_list<Setting> settings) {
  // every name and value checked before any flag changes, so a bad setting leaves none behind
  for (const auto& st : settings) {
    Flag f = flag_by_name(st.name);
    const FlagInfo& info = kFlags[static_cast<int>(f)];
    if (const auto* sv = std::get_if<std::string>(&st.value); sv && !info.is_string)
      Store::parse_int(info.name, *sv);
  }
  for (const auto& st : settings) {
    Flag f = flag_by_name(st.name);
    int i = static_cast<int>(f);
    if (kFlags[i].is_string) saved_.emplace_back(f, getenv_str(f));
    else saved_.emplace_back(f, getenv_int(f));
    set_flag(f, st.value);
  }
}

Context::~Context() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) set_flag(it->first, it->second);
}

}  // namespace fg
