// OpScope and the marking of new nodes (metadata.h).
#include "femtograd/tensor/metadata.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <map>
#include <mutex>

#include "femtograd/ir/ops.h"

namespace fg {
namespace {
thread_local MetadataRef t_current;
std::atomic<CallerHook> g_caller_hook{nullptr};

std::shared_ptr<const std::string> hook_caller() {
  CallerHook h = g_caller_hook.load(std::memory_order_relaxed);
  return h ? h() : nullptr;
}

// the name a node built outside any scope gets: its op in lower case; leaves and views get none
std::string own_name(const UOp* u) {
  switch (u->op) {
    case Op::VCONST: case Op::BUFFER_VIEW: case Op::DEVICE: case Op::UNIQUE: case Op::DEFINE_VAR: case Op::BIND:
    case Op::DETACH: case Op::CONTIGUOUS_BACKWARD:
      return "";
    case Op::REDUCE_AXIS: {
      Op r = u->arg.as_reduce().op;
      return r == Op::ADD ? "sum" : r == Op::MAX ? "max" : r == Op::MUL ? "prod" : "reduce";
    }
    default: break;
  }
  if (is_movement(u->op)) return "";
  std::string n(op_name(u->op));
  std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return std::tolower(c); });
  return n;
}

// one shared record per name for nodes built outside any scope with no caller known
MetadataRef own_metadata(const std::string& name) {
  static std::mutex mu;
  static auto* table = new std::map<std::string, MetadataRef>();
  std::lock_guard lock(mu);
  MetadataRef& m = (*table)[name];
  if (!m) m = std::make_shared<Metadata>(Metadata{name, "", false});
  return m;
}
}  // namespace

std::string caller_str(const std::source_location& loc) {
  std::string f = loc.file_name();
  size_t slash = f.find_last_of('/');
  if (slash != std::string::npos) f = f.substr(slash + 1);
  return f + ":" + std::to_string(loc.line());
}

OpScope::OpScope(std::string name, std::source_location loc) {
  if (!t_current) enter(std::move(name), caller_str(loc));
}
OpScope::OpScope(std::string name, std::string caller) {
  if (t_current) return;
  if (caller.empty())
    if (auto c = hook_caller()) caller = *c;
  enter(std::move(name), std::move(caller));
}
void OpScope::enter(std::string name, std::string caller) {
  t_current = std::make_shared<Metadata>(Metadata{std::move(name), std::move(caller), false});
  active_ = true;
}
OpScope::~OpScope() {
  if (active_) t_current.reset();
}

BackwardScope::BackwardScope(const UOp* forward) : prev_(t_current) {
  MetadataRef m = metadata_of(forward);
  t_current = m ? std::make_shared<Metadata>(Metadata{m->name, m->caller, true}) : nullptr;
}
BackwardScope::~BackwardScope() { t_current = prev_; }

const MetadataRef& current_metadata() { return t_current; }

void set_caller_hook(CallerHook hook) { g_caller_hook.store(hook); }

void attach_metadata(const UOp* u) {
  // buffers, constants and views of them are shared by every op that reads them: they name nothing
  if (u->op == Op::BUFFER || u->op == Op::CONST || is_movement(u->op)) return;
  if (t_current) {
    set_metadata(u, t_current);
    return;
  }
  std::shared_ptr<const std::string> caller = hook_caller();
  // one record per (op, caller) on this thread: the hook's strings are interned, so the pointer is the key
  uint64_t op_key = static_cast<uint64_t>(u->op) << 8 |
                    (u->op == Op::REDUCE_AXIS ? static_cast<uint64_t>(u->arg.as_reduce().op) : 0);
  thread_local std::map<std::pair<uint64_t, const std::string*>, std::pair<MetadataRef, std::shared_ptr<const std::string>>> cache;
  auto key = std::make_pair(op_key, caller.get());
  if (auto it = cache.find(key); it != cache.end()) {
    set_metadata(u, it->second.first);
    return;
  }
  std::string name = own_name(u);
  if (name.empty()) return;
  MetadataRef m = caller ? std::make_shared<Metadata>(Metadata{name, *caller, false}) : own_metadata(name);
  if (cache.size() > 4096) cache.clear();
  cache.emplace(key, std::make_pair(m, caller));  // holding the caller keeps its pointer unique
  set_metadata(u, m);
}

}  // namespace fg
