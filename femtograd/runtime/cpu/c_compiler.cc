#include "femtograd/runtime/cpu/c_compiler.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/base/hash.h"

extern char** environ;

namespace fg {
namespace fs = std::filesystem;
namespace {

// IEEE semantics hold (no -ffast-math: NaN, inf and signed zeros behave), except that a*b+c may
// fuse into one FMA, as PyTorch's and BLAS kernels do;
// -fwrapv: signed integers wrap, as the IR defines them (C leaves overflow undefined)
const char* const kFlags[] = {"-O2", "-march=native", "-fPIC", "-ffp-contract=fast", "-fno-math-errno", "-fwrapv"};

std::vector<std::string> split_words(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// the source lines around `line` (1-based), numbered, the line itself marked with '>'
std::string source_excerpt(const std::string& src, int line, int context) {
  std::istringstream in(src);
  std::string out, text;
  int lo = std::max(1, line - context), hi = line + context;
  for (int n = 1; std::getline(in, text) && n <= hi; n++) {
    if (n < lo) continue;
    char num[16];
    std::snprintf(num, sizeof num, "%5d", n);
    out += (n == line ? ">" : " ") + std::string(num) + " | " + text + "\n";
  }
  return out;
}

// a file name made from the kernel name: the compiler's messages then read "E_4.c:3:5: error"
std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return s.empty() ? "kernel" : s.substr(0, 100);
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  if (from.empty()) return;
  for (size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
}

struct TempDir {
  std::string path;
  TempDir() {
    const char* t = std::getenv("TMPDIR");
    std::string tmpl = std::string(t && *t ? t : "/tmp") + "/fg-cc-XXXXXX";
    if (!::mkdtemp(tmpl.data()))
      fail(ErrorKind::Runtime, "CPU compile", "cannot create a temporary folder ", tmpl, ": ",
           std::strerror(errno));
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv) {
  ProcessResult r;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    r.output = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);  // dup2 clears close-on-exec on 1 and 2
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int err = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    r.output = "cannot run " + argv[0] + ": " + std::strerror(err);
    return r;
  }
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0)
      r.output.append(buf, static_cast<size_t>(n));
    else if (n == 0 || errno != EINTR)
      break;
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string host_cpu_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model, flags;
    while (std::getline(in, line)) {
      if (model.empty() && line.starts_with("model name")) model = line;
      if (flags.empty() && (line.starts_with("flags") || line.starts_with("Features")))
        flags = line;
      if (!model.empty() && !flags.empty()) break;
    }
    return sha256_hex(model + "\n" + flags).substr(0, 16);
  }();
  return id;
}

std::vector<std::string> find_c_compiler() {
  std::vector<std::string> cmd = split_words(getenv_str(Flag::CC));
  std::vector<std::string> candidates = cmd.empty() ? std::vector<std::string>{"clang", "gcc", "cc"}
                                                    : std::vector<std::string>{cmd[0]};
  const char* path_env = std::getenv("PATH");
  std::vector<std::string> dirs;
  std::string path = path_env ? path_env : "/usr/bin:/bin";
  for (size_t b = 0, e; b <= path.size(); b = e + 1) {
    e = path.find(':', b);
    if (e == std::string::npos) e = path.size();
    dirs.push_back(b == e ? "." : path.substr(b, e - b));
  }
  for (const auto& c : candidates) {
    std::string found;
    if (c.find('/') != std::string::npos) {
      if (::access(c.c_str(), X_OK) == 0) found = c;
    } else {
      for (const auto& d : dirs) {
        std::string p = d + "/" + c;
        if (::access(p.c_str(), X_OK) == 0 && !fs::is_directory(p)) {
          found = p;
          break;
        }
      }
    }
    if (found.empty()) continue;
    if (cmd.empty()) return {found};
    cmd[0] = found;
    return cmd;
  }
  if (!cmd.empty())
    fail(ErrorKind::Runtime, "CPU", "the C compiler CC='", getenv_str(Flag::CC),
         "' was not found (is it installed and on PATH?)");
  fail(ErrorKind::Runtime, "CPU",
       "no C compiler found: install clang or gcc, or set CC to a C compiler");
}

CCompiler::CCompiler(std::vector<std::string> cmd, std::vector<std::string> extra_flags)
    : cmd_(std::move(cmd)), extra_(std::move(extra_flags)) {
  FG_ASSERT(!cmd_.empty());
  std::vector<std::string> argv = cmd_;
  argv.push_back("--version");
  ProcessResult r = run_process(argv);
  FG_CHECK(r.status == 0, ErrorKind::Runtime, "CPU", "the C compiler '", cmd_[0],
           "' does not run (", argv.back(), " exited with ", r.status, "): ", r.output);
  version_ = r.output.substr(0, r.output.find('\n'));
  cache_key_ = "cc=";
  for (const auto& c : cmd_) cache_key_ += c + " ";
  cache_key_ += "version=" + version_ + " flags=";
  for (const auto& f : flags()) cache_key_ += f + " ";
  cache_key_ += "cpu=" + host_cpu_id();
}

std::vector<std::string> CCompiler::flags() const {
  std::vector<std::string> f(std::begin(kFlags), std::end(kFlags));
  f.insert(f.end(), extra_.begin(), extra_.end());
  return f;
}

std::string CCompiler::compile(const std::string& src, const std::string& name) {
  TempDir dir;
  std::string stem = file_stem(name);
  std::string c_path = dir.path + "/" + stem + ".c", so_path = dir.path + "/" + stem + ".so";
  {
    std::ofstream out(c_path, std::ios::binary);
    out << src;
    FG_CHECK(out.good(), ErrorKind::Runtime, "CPU compile", "kernel ", name, ": cannot write ",
             c_path);
  }
  // Compiling to an object and linking it with ld directly skips the compiler driver's link
  // step (toolchain discovery, crt files), which costs as much as compiling a small kernel.
  // The shared object needs no libraries: libm's functions resolve in the loading process.
  static const bool have_ld = run_process({"ld", "--version"}).status == 0;
  std::string o_path = dir.path + "/" + stem + ".o";
  std::vector<std::string> argv = cmd_;
  for (const auto& f : flags()) argv.push_back(f);
  if (have_ld) {
    for (const char* a : {"-c", "-x", "c", c_path.c_str(), "-o", o_path.c_str()}) argv.emplace_back(a);
  } else {
    for (const char* a : {"-shared", "-x", "c", c_path.c_str(), "-x", "none", "-o", so_path.c_str(), "-lm"})
      argv.emplace_back(a);
  }
  ProcessResult r = run_process(argv);
  if (r.status == 0 && have_ld) {
    ProcessResult l = run_process({"ld", "-shared", "-o", so_path, o_path});
    if (l.status != 0) r = l;
  }
  std::string msg = r.output;
  replace_all(msg, dir.path + "/", "");
  if (r.status != 0) {
    // the line of the first error, from "E_4.c:LINE:COL: error"
    int line = 0;
    std::string marker = stem + ".c:";
    for (size_t p = 0; (p = msg.find(marker, p)) != std::string::npos; p += marker.size()) {
      size_t eol = msg.find('\n', p);
      std::string_view l(msg.data() + p, (eol == std::string::npos ? msg.size() : eol) - p);
      if (l.find("error") == std::string_view::npos) continue;
      line = std::atoi(msg.c_str() + p + marker.size());
      break;
    }
    std::string excerpt = line > 0 ? source_excerpt(src, line, 3) : source_excerpt(src, 0, 20);
    fail(ErrorKind::Runtime, "CPU compile", "kernel ", name, " failed to compile with ", cmd_[0],
         " (exit status ", r.status, "):\n", msg, "source",
         line > 0 ? cat(" around line ", line) : std::string(" (first lines)"), ":\n", excerpt);
  }
  std::string bin = read_file(so_path);
  FG_CHECK(!bin.empty(), ErrorKind::Runtime, "CPU compile", "kernel ", name, ": ", cmd_[0],
           " succeeded but wrote no shared object; its output:\n", msg);
  return bin;
}

}  // namespace fg
