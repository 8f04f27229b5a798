#include "femtograd/engine/realize.h"

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/codegen/bounds_check.h"
#include "femtograd/codegen/opts_gpu.h"
#include "femtograd/engine/beam.h"
#include "femtograd/render/render.h"
#include "femtograd/runtime/cuda/cuda_check.h"
#include "femtograd/schedule/schedule.h"

namespace fg {

GlobalCounters& GlobalCounters::get() {
  static GlobalCounters g;
  return g;
}

std::shared_ptr<Buffer> buffer_of(const UOpRef& node) {
  FG_ASSERT(node->op == Op::BUFFER, "buffer_of needs a BUFFER node, got ", node->line());
  if (auto p = node->payload()) return std::static_pointer_cast<Buffer>(p);
  Device& dev = get_device(node->src(1)->arg.as_str());
  auto buf = Buffer::create(dev, node->dtype, node->arg.as_int());
  node->set_payload(buf);
  return buf;
}

Target target_for(Device& dev) {
  Target t;
  t.lang = dev.renderer();
  t.gpu = t.lang != "c";
  if (t.lang == "cuda") t = cuda_target();
  return t;
}

namespace {
struct KernelCache {
  std::mutex mu;
  // (device, AST, BEAM width) -> kernel; the AST is kept alive by the entry
  std::unordered_map<std::string, std::pair<UOpRef, std::shared_ptr<CompiledKernel>>> map;
  static std::string key(const UOpRef& ast, Device& dev) {
    return dev.name() + "/" + std::to_string(reinterpret_cast<uintptr_t>(ast.get())) + "/" +
           std::to_string(getenv_int(Flag::BEAM));
  }
};
KernelCache& kernel_cache() {
  static KernelCache* c = new KernelCache();  // never destroyed: programs outlive static teardown
  return *c;
}

std::shared_ptr<CompiledKernel> lookup(const UOpRef& ast, Device& dev) {
  KernelCache& kc = kernel_cache();
  std::lock_guard lock(kc.mu);
  auto it = kc.map.find(KernelCache::key(ast, dev));
  return it == kc.map.end() ? nullptr : it->second.second;
}

std::atomic<KernelObserver> g_kernel_observer{nullptr};

// Generates and compiles the kernels not in the cache, all sources compiled in parallel.
void prepare(const std::vector<std::pair<UOpRef, Device*>>& asts) {
  std::vector<std::shared_ptr<CompiledKernel>> fresh;
  std::vector<std::pair<UOpRef, Device*>> todo;
  for (const auto& [ast, dev] : asts) {
    if (lookup(ast, *dev)) continue;
    bool dup = false;
    for (auto& t : todo) dup |= t.first == ast && t.second == dev;
    if (dup) continue;
    auto ck = std::make_shared<CompiledKernel>();
    // BEAM=n: the searched (or cached) opts; nullopt keeps the heuristic
    std::optional<std::vector<Opt>> searched;
    if (int64_t width = getenv_int(Flag::BEAM); width > 0) searched = beam_opts(ast, *dev, static_cast<int>(width));
    ck->prog = codegen(ast, target_for(*dev), searched ? &*searched : nullptr);
    ck->source = render(dev->renderer(), ck->prog);
    if (KernelObserver obs = g_kernel_observer.load()) obs(ck->prog.name, ck->source);
    if (getenv_int(Flag::CHECK_CUDA) && dev->renderer() != "cuda") check_cuda_compile(ast);
    if (getenv_int(Flag::DEBUG) >= 4) std::fprintf(stderr, "%s\n", ck->source.c_str());
    fresh.push_back(ck);
    todo.push_back({ast, dev});
  }
  if (todo.empty()) return;
  // group by device for compile_all
  std::unordered_map<Device*, std::vector<size_t>> by_dev;
  for (size_t i = 0; i < todo.size(); i++) by_dev[todo[i].second].push_back(i);
  for (auto& [dev, idxs] : by_dev) {
    std::vector<std::pair<std::string, std::string>> srcs;
    for (size_t i : idxs) srcs.emplace_back(fresh[i]->prog.name, fresh[i]->source);
    std::vector<std::string> bins = compile_all(*dev, srcs);
    for (size_t j = 0; j < idxs.size(); j++) {
      auto& ck = fresh[idxs[j]];
      ck->program = dev->load(ck->prog.name, bins[j]);
    }
  }
  KernelCache& kc = kernel_cache();
  std::lock_guard lock(kc.mu);
  for (size_t i = 0; i < todo.size(); i++)
    kc.map.emplace(KernelCache::key(todo[i].first, *todo[i].second), std::make_pair(todo[i].first, fresh[i]));
}

void run_copy(const std::shared_ptr<Buffer>& dst, const std::shared_ptr<Buffer>& src) {
  std::vector<unsigned char> host(src->nbytes());
  src->copy_out(host.data(), host.size());
  dst->ensure_allocated();
  dst->copy_in(host.data(), host.size());
}
}  // namespace

void set_kernel_observer(KernelObserver obs) { g_kernel_observer.store(obs); }

std::shared_ptr<CompiledKernel> get_kernel(const UOpRef& ast, Device& dev) {
  if (auto k = lookup(ast, dev)) return k;
  prepare({{ast, &dev}});
  return lookup(ast, dev);
}

namespace {
thread_local std::vector<ExecItem>* t_capture = nullptr;
}  // namespace

void set_capture(std::vector<ExecItem>* list) { t_capture = list; }

void run_exec_item(const ExecItem& it) {
  if (!it.kernel) {
    run_copy(it.bufs[0], it.bufs[1]);
    return;
  }
  int debug = static_cast<int>(getenv_int(Flag::DEBUG));
  GlobalCounters& gc = GlobalCounters::get();
  const CompiledKernel& ck = *it.kernel;
  if (getenv_int(Flag::CHECK_OOB) > 0) {  // prove every access in bounds before the first run
    std::vector<int64_t> sizes;
    for (const auto& b : it.bufs) sizes.push_back(b->size());
    check_bounds_once(ck.prog, sizes);
  }
  void* ptrs[64];
  std::vector<void*> many;
  void** p = ptrs;
  if (it.bufs.size() > 64) { many.resize(it.bufs.size()); p = many.data(); }
  for (size_t i = 0; i < it.bufs.size(); i++) p[i] = it.bufs[i]->ensure_allocated();
  LaunchDims dims;
  for (int i = 0; i < 3; i++) dims.global[i] = ck.prog.global_size[i], dims.local[i] = ck.prog.local_size[i];
  dims.grain = ck.prog.grain;
  double t = ck.program->run(std::span<void* const>(p, it.bufs.size()), {}, dims, debug >= 2);
  gc.count(ck.prog, t);
  if (debug >= 2) {
    std::string opts;
    for (const Opt& o : ck.prog.opts) opts += (opts.empty() ? "" : " ") + opt_str(o);
    std::fprintf(stderr, "*** %-6s %4lld %-28s %9.2f us  %8.2f GFLOP/s  %8.2f GB/s  %s %s\n", it.device.c_str(),
                 static_cast<long long>(gc.kernel_count), ck.prog.name.c_str(), t * 1e6,
                 t > 0 ? ck.prog.flops / t * 1e-9 : 0.0, t > 0 ? ck.prog.bytes / t * 1e-9 : 0.0, opts.c_str(),
                 metadata_str(it.metadata).c_str());
  }
}

void realize(const std::vector<UOpRef>& roots) {
  Schedule sched = create_schedule(roots);
  std::vector<std::pair<UOpRef, Device*>> asts;
  for (const ScheduleItem& it : sched.items)
    if (it.kind == ScheduleItem::Kind::Kernel) asts.push_back({it.ast, &get_device(it.device)});
  prepare(asts);
  // below a kernel's outputs, buffers and the values of other kernels end what it computes
  std::unordered_set<const UOp*> stored;
  for (const auto& [node, buf] : sched.stored) stored.insert(node.get());
  auto boundary = [&](const UOp* n) { return n->op == Op::BUFFER || stored.count(n) || n->realized(); };
  for (const ScheduleItem& it : sched.items) {
    ExecItem ei;
    ei.device = it.device;
    ei.metadata = collect_metadata(it.outputs, boundary);
    for (const UOpRef& b : it.bufs) ei.bufs.push_back(buffer_of(b));
    if (it.kind == ScheduleItem::Kind::Kernel) ei.kernel = lookup(it.ast, get_device(it.device));
    run_exec_item(ei);
    if (t_capture) t_capture->push_back(std::move(ei));
  }
  for (auto& [node, buf] : sched.stored) node->set_realized(buf);
}

}  // namespace fg
