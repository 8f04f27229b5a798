// BEAM=n: search a kernel's opts by timing real launches on its device.
// Guarantees: a variant is accepted only when its output on random inputs matches the unoptimized
// kernel's on the same inputs (exactly for integer and bool outputs, within a float tolerance for
// reassociated reduces); candidates that fail to generate, compile, load or run, or pass the UOp
// limit, are dropped without an error; the kernel's real buffers are never touched (every launch
// uses scratch buffers of the kernel's sizes); winners are cached in memory and on disk (table
// "beam", keyed by the AST, the device and its compiler/arch, and the beam width) and re-applied
// without timing. Kernels the search cannot run safely keep the heuristic (see beam.cc).
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "femtograd/codegen/codegen.h"
#include "femtograd/ir/uop.h"
#include "femtograd/runtime/device.h"

namespace fg {

// The opts BEAM=width picks for ast on dev (searched, or from the caches); nullopt: keep the
// heuristic (the device runs nothing, the kernel cannot be searched, or the heuristic won and
// cannot be replayed as a list).
std::optional<std::vector<Opt>> beam_opts(const UOpRef& ast, Device& dev, int width);

// The key of ast's winner in the disk cache's "beam" table: sha256 of the AST's text, the device
// kind (CUDA for CUDA:1), its renderer and compiler key (compiler version, flags, arch or host CPU)
// and the width.
std::string beam_cache_key(const UOpRef& ast, Device& dev, int width);

// What one search found (beam_opts keeps the last one; tests and DEBUG read it).
struct BeamResult {
  std::string kernel;               // the kernel's name (r_16_16_16)
  std::vector<Opt> opts;            // the winner
  std::vector<Opt> heuristic_opts;  // what the heuristic picks
  bool from_cache = false;          // memory or disk: no search ran
  bool searched = false;            // a search ran (false for cache hits and skipped kernels)
  double best_s = 0, heuristic_s = 0, unoptimized_s = 0;  // timed launches (searched only)
  int steps = 0;                    // beam steps taken
};
BeamResult beam_last_result();

// The actions of one search step: every opt kind of the target (the GPU kinds only where
// target.gpu) on every loop of the kernel, in a few amounts; codegen refuses those that do not
// apply after the opts already chosen.
std::vector<Opt> beam_actions(const UOpRef& ast, const Target& target);

// Process-wide counters (tests, profiling).
struct BeamStats {
  int64_t searches = 0;       // searches run (not counting cache hits)
  int64_t memory_hits = 0, disk_hits = 0;
  int64_t candidates = 0;     // distinct programs compiled
  int64_t launches = 0;       // timed launches of candidates
  int64_t rejected_wrong = 0;    // output differs from the unoptimized kernel's
  int64_t rejected_failed = 0;   // codegen, compile, load or launch failed
  int64_t rejected_limit = 0;    // more UOps than BEAM_UOPS_MAX
  int64_t skipped = 0;           // kernels left to the heuristic (not searchable)
};
BeamStats beam_stats();
void beam_reset_stats();
// forgets the in-memory winners (the disk cache stays; IGNORE_BEAM_CACHE=1 bypasses both)
void beam_clear_memory_cache();

// Test hook: sees every candidate's source before it compiles and may rewrite it (a test makes a
// deliberately wrong variant this way). Not called for the unoptimized reference. Null removes it.
using BeamSourceHook = std::function<void(const std::vector<Opt>& opts, std::string& source)>;
void set_beam_source_hook(BeamSourceHook hook);

}  // namespace fg
