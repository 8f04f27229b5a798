// The C compiler of the CPU backend: runs the system's clang or gcc on generated C and returns
// the shared object's bytes. Guarantees: the flags keep IEEE semantics (-ffp-contract=off, no
// -ffast-math: NaN and inf behave as in C); the cache key names the compiler binary, its version,
// every flag and the host CPU (because of -march=native); a failed compile throws Error(Runtime)
// naming the kernel, with the compiler's message and the numbered source lines around the error.
#pragma once
#include <string>
#include <vector>

#include "femtograd/runtime/device.h"

namespace fg {

class CCompiler final : public Compiler {
 public:
  // cmd: the compiler command and any leading arguments ({"clang"}, {"ccache", "gcc"});
  // extra_flags go after the standard ones. Throws Error(Runtime) when the compiler does not run.
  explicit CCompiler(std::vector<std::string> cmd, std::vector<std::string> extra_flags = {});
  std::string compile(const std::string& src, const std::string& name) override;
  std::string cache_key() const override { return cache_key_; }
  const std::string& version() const { return version_; }  // first line of `cc --version`
  const std::vector<std::string>& command() const { return cmd_; }
  std::vector<std::string> flags() const;  // every flag passed on compile

 private:
  std::vector<std::string> cmd_, extra_;
  std::string version_, cache_key_;
};

// The compiler command the CPU backend uses: the CC flag (split on spaces) if set, else the
// first of clang, gcc, cc found on PATH, resolved to an absolute path. Throws Error(Runtime)
// when there is none.
std::vector<std::string> find_c_compiler();

// Runs argv (argv[0] looked up on PATH) with stdin from /dev/null; returns the exit status
// (-1 when it could not start or died from a signal) and stdout and stderr together.
struct ProcessResult {
  int status = -1;
  std::string output;
};
ProcessResult run_process(const std::vector<std::string>& argv);

// A short identity of the host CPU model and features (what -march=native compiles for).
std::string host_cpu_id();

}  // namespace fg
