// VIZ (viz.h): a RewriteTracer that keeps text records, a kernel observer, and a small HTTP/1.0
// server on a background thread. The page (viz_page.h) fetches the records as JSON.
#include "femtograd/tools/viz.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/engine/realize.h"
#include "femtograd/ir/graph_rewrite.h"
#include "femtograd/tools/viz_page.h"

namespace fg::viz {
namespace {

constexpr size_t kMaxRecords = 20000;  // bounds the memory of a long run
constexpr size_t kMaxGraphChars = 200000;

struct Fired {
  std::string where, before, after;
};
struct Record {
  std::string pass, before, after;
  std::vector<Fired> rules;
};

std::string clip(std::string s) {
  if (s.size() > kMaxGraphChars) s = s.substr(0, kMaxGraphChars) + "\n... (" + std::to_string(s.size()) + " chars)";
  return s;
}
std::string node_text(const UOp* u) { return u->has_bounds() ? u->expr() : u->line(); }

struct State {
  std::mutex mu;
  std::vector<Record> records;
  std::vector<std::pair<std::string, std::string>> kernels;
};
State& state() {
  static State* s = new State();  // never destroyed: tracer calls may come during exit
  return *s;
}

struct Tracer final : RewriteTracer {
  // graph_rewrite calls nest; each thread keeps its own open passes
  static std::vector<Record>& open() {
    thread_local std::vector<Record> o;
    return o;
  }
  void begin(std::string_view pass, const UOp* root) override {
    open().push_back(Record{std::string(pass), clip(root->str()), "", {}});
  }
  void fired(const Rule& rule, const UOp* before, const UOp* after) override {
    std::string f = rule.loc.file_name();
    if (size_t s = f.find_last_of('/'); s != std::string::npos) f = f.substr(s + 1);
    open().back().rules.push_back({f + ":" + std::to_string(rule.loc.line()), node_text(before), node_text(after)});
  }
  void end(const UOp* result) override {
    Record r = std::move(open().back());
    open().pop_back();
    if (r.rules.empty()) return;  // nothing changed: not worth a row
    r.after = clip(result->str());
    State& s = state();
    std::lock_guard lock(s.mu);
    if (s.records.size() < kMaxRecords) s.records.push_back(std::move(r));
  }
};
Tracer& tracer() {
  static Tracer* t = new Tracer();
  return *t;
}

void on_kernel(const std::string& name, const std::string& source) {
  State& s = state();
  std::lock_guard lock(s.mu);
  if (s.kernels.size() < kMaxRecords) s.kernels.emplace_back(name, source);
}

std::string json_str(const std::string& s) {
  std::string o = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': o += "\\\""; break;
      case '\\': o += "\\\\"; break;
      case '\n': o += "\\n"; break;
      case '\t': o += "\\t"; break;
      case '\r': o += "\\r"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          o += b;
        } else {
          o += static_cast<char>(c);
        }
    }
  }
  return o + "\"";
}

// ---- the server
std::atomic<int> g_listen_fd{-1};
std::thread* g_thread = nullptr;
std::mutex g_server_mu;

void respond(int fd, const char* status, const char* type, const std::string& body) {
  std::string head = std::string("HTTP/1.0 ") + status + "\r\nContent-Type: " + type +
                     "\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n";
  std::string all = head + body;
  size_t off = 0;
  while (off < all.size()) {
    ssize_t n = ::send(fd, all.data() + off, all.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
}

void handle(int fd) {
  std::string req;
  char buf[4096];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 65536) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    req.append(buf, static_cast<size_t>(n));
  }
  size_t sp1 = req.find(' '), sp2 = sp1 == std::string::npos ? sp1 : req.find(' ', sp1 + 1);
  std::string path = sp2 == std::string::npos ? "/" : req.substr(sp1 + 1, sp2 - sp1 - 1);
  if (size_t q = path.find('?'); q != std::string::npos) path = path.substr(0, q);
  if (path == "/" || path == "/index.html") return respond(fd, "200 OK", "text/html; charset=utf-8", kPage);
  if (path == "/api/rewrites") return respond(fd, "200 OK", "application/json", rewrites_json());
  if (path == "/api/kernels") return respond(fd, "200 OK", "application/json", kernels_json());
  if (path.rfind("/api/rewrite/", 0) == 0) {
    std::string n = path.substr(13);
    if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos && n.size() < 10) {
      size_t i = std::stoul(n);
      if (i < rewrite_count()) return respond(fd, "200 OK", "application/json", rewrite_json(i));
    }
  }
  respond(fd, "404 Not Found", "text/plain", "not found: " + path + "\n");
}

void serve_loop(int lfd) {
  while (true) {
    int fd = ::accept(lfd, nullptr, nullptr);
    if (fd < 0) {
      if (g_listen_fd.load() != lfd) return;  // stopped
      continue;
    }
    // a browser opens connections ahead of its requests (some never send one): each connection gets
    // a thread of its own and a few seconds to send its request
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    std::thread([fd] {
      handle(fd);
      ::close(fd);
    }).detach();
  }
}

}  // namespace

void enable() {
  set_rewrite_tracer(&tracer());
  set_kernel_observer(&on_kernel);
}
void disable() {
  set_rewrite_tracer(nullptr);
  set_kernel_observer(nullptr);
}
void clear() {
  State& s = state();
  std::lock_guard lock(s.mu);
  s.records.clear();
  s.kernels.clear();
}

size_t rewrite_count() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.records.size();
}
size_t kernel_count() {
  State& s = state();
  std::lock_guard lock(s.mu);
  return s.kernels.size();
}

std::string rewrites_json() {
  State& s = state();
  std::lock_guard lock(s.mu);
  std::string o = "[";
  for (size_t i = 0; i < s.records.size(); i++)
    o += (i ? "," : "") + std::string("{\"i\":") + std::to_string(i) + ",\"pass\":" + json_str(s.records[i].pass) +
         ",\"fired\":" + std::to_string(s.records[i].rules.size()) + "}";
  return o + "]";
}

std::string rewrite_json(size_t i) {
  State& s = state();
  std::lock_guard lock(s.mu);
  FG_CHECK(i < s.records.size(), ErrorKind::Index, "viz", "rewrite ", i, " of ", s.records.size());
  const Record& r = s.records[i];
  std::string o = "{\"i\":" + std::to_string(i) + ",\"pass\":" + json_str(r.pass) + ",\"before\":" + json_str(r.before) +
                  ",\"after\":" + json_str(r.after) + ",\"rules\":[";
  for (size_t k = 0; k < r.rules.size(); k++)
    o += (k ? "," : "") + std::string("{\"where\":") + json_str(r.rules[k].where) + ",\"before\":" +
         json_str(r.rules[k].before) + ",\"after\":" + json_str(r.rules[k].after) + "}";
  return o + "]}";
}

std::string kernels_json() {
  State& s = state();
  std::lock_guard lock(s.mu);
  std::string o = "[";
  for (size_t i = 0; i < s.kernels.size(); i++)
    o += (i ? "," : "") + std::string("{\"name\":") + json_str(s.kernels[i].first) + ",\"source\":" +
         json_str(s.kernels[i].second) + "}";
  return o + "]";
}

int serve(int port) {
  std::lock_guard lock(g_server_mu);
  FG_CHECK(g_listen_fd.load() < 0, ErrorKind::Value, "viz", "the server is already running");
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  FG_CHECK(fd >= 0, ErrorKind::Runtime, "viz", "cannot open a socket");
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // this machine only
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    fail(ErrorKind::Runtime, "viz", "cannot listen on 127.0.0.1:", port);
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  g_listen_fd.store(fd);
  g_thread = new std::thread(serve_loop, fd);
  return ntohs(addr.sin_port);
}

void stop() {
  std::lock_guard lock(g_server_mu);
  int fd = g_listen_fd.exchange(-1);
  if (fd < 0) return;
  ::shutdown(fd, SHUT_RDWR);  // wakes accept()
  ::close(fd);
  if (g_thread) {
    g_thread->join();
    delete g_thread;
    g_thread = nullptr;
  }
}

void serve_if_enabled() {
  if (getenv_int(Flag::VIZ) <= 0) return;
  int port;
  try {
    port = serve(8000);
  } catch (const Error&) {
    port = serve(0);
  }
  std::fprintf(stderr, "VIZ: %zu rewrites and %zu kernels at http://127.0.0.1:%d/ (Ctrl-C ends)\n", rewrite_count(),
               kernel_count(), port);
  while (g_listen_fd.load() >= 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

}  // namespace fg::viz
