// Environment flags: defaults, parsing of the environment, Context overrides, and the docs listing.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"

using namespace fg;

#ifndef FG_SOURCE_DIR
#error "tests need FG_SOURCE_DIR (set in CMakeLists.txt)"
#endif

namespace {
std::vector<FlagInfo> all_flags() {
  int n = 0;
  const FlagInfo* t = flag_table(&n);
  return {t, t + n};
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}
}  // namespace

TEST(Flags, TableMatchesEnum) {
  auto flags = all_flags();
  ASSERT_EQ(flags.size(), static_cast<size_t>(Flag::COUNT));
  for (size_t i = 0; i < flags.size(); i++) {
    EXPECT_EQ(flag_by_name(flags[i].name), static_cast<Flag>(i)) << flags[i].name;
    EXPECT_GT(std::string(flags[i].help).size(), 10u) << flags[i].name << " needs a help line";
  }
  EXPECT_FALSE(flags[static_cast<int>(Flag::DEBUG)].is_string);
  EXPECT_TRUE(flags[static_cast<int>(Flag::DEV)].is_string);
}

// Defaults hold when the environment does not set the flag (ctest runs without these variables).
TEST(Flags, Defaults) {
  for (const FlagInfo& f : all_flags()) {
    if (std::getenv(f.name)) continue;  // someone ran the tests with this flag set
    Flag fl = flag_by_name(f.name);
    if (f.is_string) {
      EXPECT_EQ(getenv_str(fl), f.default_text) << f.name;
      EXPECT_EQ(getenv_int(fl), 0) << f.name;
    } else {
      EXPECT_EQ(getenv_str(fl), f.default_text) << f.name;
      EXPECT_EQ(getenv_int(fl), std::stoll(f.default_text)) << f.name;
    }
  }
  if (!std::getenv("REWRITE_LIMIT")) EXPECT_EQ(getenv_int(Flag::REWRITE_LIMIT), 100000);
  if (!std::getenv("DEBUG")) EXPECT_EQ(getenv_int(Flag::DEBUG), 0);
}

// The store reads the environment once per process, so environment parsing is checked in a child
// that re-executes this test binary (gtest's "threadsafe" death-test style) with the variables set.
TEST(FlagsEnv, ReadFromEnvironment) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("BEAM", "7", 1);
  setenv("NOOPT", "-3", 1);
  setenv("THREADS", "", 1);  // empty counts as 0
  setenv("DEV", "CUDA:1", 1);
  EXPECT_EXIT(
      {
        bool ok = getenv_int(Flag::BEAM) == 7 && getenv_int(Flag::NOOPT) == -3 &&
                  getenv_int(Flag::THREADS) == 0 && getenv_str(Flag::DEV) == "CUDA:1" &&
                  getenv_str(Flag::BEAM) == "7";
        std::exit(ok ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
  unsetenv("BEAM");
  unsetenv("NOOPT");
  unsetenv("THREADS");
  unsetenv("DEV");
}

TEST(FlagsEnv, NonIntegerValueNamesTheFlag) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  setenv("CHECK_OOB", "yes", 1);
  EXPECT_EXIT(
      {
        try {
          getenv_int(Flag::DEBUG);
        } catch (const Error& e) {
          std::string msg = e.what();
          bool ok = e.kind() == ErrorKind::Value && msg.find("CHECK_OOB") != std::string::npos &&
                    msg.find("'yes'") != std::string::npos;
          std::fprintf(stderr, "%s\n", e.what());
          std::exit(ok ? 0 : 2);
        }
        std::exit(1);
      },
      testing::ExitedWithCode(0), "CHECK_OOB must be an integer");
  unsetenv("CHECK_OOB");
}

TEST(Flags, ContextOverridesAndRestores) {
  int64_t before = getenv_int(Flag::BEAM);
  {
    Context ctx{{"BEAM", 4}};
    EXPECT_EQ(getenv_int(Flag::BEAM), 4);
    EXPECT_EQ(getenv_str(Flag::BEAM), "4");
  }
  EXPECT_EQ(getenv_int(Flag::BEAM), before);
}

TEST(Flags, NestedContexts) {
  int64_t debug0 = getenv_int(Flag::DEBUG), viz0 = getenv_int(Flag::VIZ);
  {
    Context a{{"DEBUG", 2}, {"VIZ", 1}};
    EXPECT_EQ(getenv_int(Flag::DEBUG), 2);
    {
      Context b{{"DEBUG", 5}};
      EXPECT_EQ(getenv_int(Flag::DEBUG), 5);
      EXPECT_EQ(getenv_int(Flag::VIZ), 1);  // untouched by the inner scope
      {
        Context c{{"DEBUG", 0}, {"VIZ", 0}};
        EXPECT_EQ(getenv_int(Flag::DEBUG), 0);
        EXPECT_EQ(getenv_int(Flag::VIZ), 0);
      }
      EXPECT_EQ(getenv_int(Flag::DEBUG), 5);
      EXPECT_EQ(getenv_int(Flag::VIZ), 1);
    }
    EXPECT_EQ(getenv_int(Flag::DEBUG), 2);
  }
  EXPECT_EQ(getenv_int(Flag::DEBUG), debug0);
  EXPECT_EQ(getenv_int(Flag::VIZ), viz0);
}

TEST(Flags, SameFlagTwiceInOneContextRestoresTheOriginal) {
  int64_t before = getenv_int(Flag::NOOPT);
  {
    Context ctx{{"NOOPT", 1}, {"NOOPT", 2}};
    EXPECT_EQ(getenv_int(Flag::NOOPT), 2);
  }
  EXPECT_EQ(getenv_int(Flag::NOOPT), before);
}

TEST(Flags, StringFlags) {
  std::string dev0 = getenv_str(Flag::DEV), cc0 = getenv_str(Flag::CC);
  {
    Context ctx{{"DEV", "CPU"}, {"CC", std::string("gcc-12")}};
    EXPECT_EQ(getenv_str(Flag::DEV), "CPU");
    EXPECT_EQ(getenv_str(Flag::CC), "gcc-12");
    EXPECT_EQ(getenv_int(Flag::DEV), 0);  // a string flag has no integer value
    {
      Context inner{{"DEV", "NULL"}};
      EXPECT_EQ(getenv_str(Flag::DEV), "NULL");
    }
    EXPECT_EQ(getenv_str(Flag::DEV), "CPU");
  }
  EXPECT_EQ(getenv_str(Flag::DEV), dev0);
  EXPECT_EQ(getenv_str(Flag::CC), cc0);
}

TEST(Flags, IntegerFlagSetFromText) {
  int64_t before = getenv_int(Flag::BEAM);
  {
    Context ctx{{"BEAM", "3"}};
    EXPECT_EQ(getenv_int(Flag::BEAM), 3);
  }
  EXPECT_EQ(getenv_int(Flag::BEAM), before);
}

TEST(Flags, UnknownNameNamesTheFlag) {
  try {
    flag_by_name("NOT_A_FLAG");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_NE(std::string(e.what()).find("NOT_A_FLAG"), std::string::npos) << e.what();
  }
  // a Context with an unknown name sets nothing, not even the valid names before it
  int64_t before = getenv_int(Flag::BEAM);
  try {
    Context ctx{{"BEAM", 9}, {"DEBGU", 1}};
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("DEBGU"), std::string::npos) << e.what();
  }
  EXPECT_EQ(getenv_int(Flag::BEAM), before);
}

// docs/env_vars.md has one table row per flag: | `NAME` | `default` | help |, matching flags.def.
TEST(Flags, EveryFlagIsDocumented) {
  std::string path = std::string(FG_SOURCE_DIR) + "/docs/env_vars.md";
  std::ifstream in(path);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::map<std::string, std::vector<std::string>> rows;  // name -> cells after the name
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream ss(line.substr(1));
    std::string cell;
    while (std::getline(ss, cell, '|')) cells.push_back(trim(cell));
    if (!cells.empty() && cells.back().empty()) cells.pop_back();
    ASSERT_GE(cells.size(), 3u) << "bad row: " << line;
    std::string name = cells[0].substr(1, cells[0].size() - 2);  // strip the backticks
    rows[name] = {cells.begin() + 1, cells.end()};
  }
  for (const FlagInfo& f : all_flags()) {
    auto it = rows.find(f.name);
    ASSERT_NE(it, rows.end()) << f.name << " is not listed in " << path;
    const auto& cells = it->second;
    std::string def = f.default_text[0] ? "`" + std::string(f.default_text) + "`" : "`\"\"`";
    EXPECT_EQ(cells[0].rfind(def, 0), 0u)
        << f.name << ": docs give default " << cells[0] << ", flags.def has " << def;
    EXPECT_EQ(cells[1], f.help) << f.name << ": help text differs from flags.def";
    rows.erase(it);
  }
  for (const auto& [name, cells] : rows)
    ADD_FAILURE() << path << " lists " << name << ", which flags.def does not declare";
}
