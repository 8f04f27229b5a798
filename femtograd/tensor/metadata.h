// Naming the kernels: while an OpScope lives, the tensor-level nodes this thread builds are marked
// as made by that user-level op (ir/metadata.h), so DEBUG=2 can say which ops each kernel came from.
// The outermost scope wins (a layer's forward names everything it calls); autograd marks each
// gradient with the metadata of the forward op it differentiates, flagged backward. Nodes built
// outside any scope are named by their op ("add", "sum"). C++ callers name themselves through
// std::source_location; the Python bindings give the calling Python frame.
#pragma once
#include <memory>
#include <source_location>
#include <string>

#include "femtograd/ir/metadata.h"

namespace fg {

class OpScope {
 public:
  // an op named `name`, called from loc (pass your own caller's location to name the user's line)
  explicit OpScope(std::string name, std::source_location loc = std::source_location::current());
  // the caller as text ("train.py:12"); empty asks the caller hook (Python) for it
  OpScope(std::string name, std::string caller);
  ~OpScope();
  OpScope(const OpScope&) = delete;
  OpScope& operator=(const OpScope&) = delete;

 private:
  void enter(std::string name, std::string caller);
  bool active_ = false;
};

// The gradient of the op that built `forward` (autograd): overrides any scope around it.
class BackwardScope {
 public:
  explicit BackwardScope(const UOp* forward);
  ~BackwardScope();
  BackwardScope(const BackwardScope&) = delete;
  BackwardScope& operator=(const BackwardScope&) = delete;

 private:
  MetadataRef prev_;
};

// the metadata nodes built now get (null outside any scope)
const MetadataRef& current_metadata();
// "file:line" of a source location, the file without its folders
std::string caller_str(const std::source_location& loc);
// Set by the Python module: the user's Python frame as "file.py:line" (null when none). The hook
// interns its answers: equal callers are the same string object, so marking stays cheap.
using CallerHook = std::shared_ptr<const std::string> (*)();
void set_caller_hook(CallerHook hook);
// Marks u as built by the current scope, or by its own op outside any scope (Tensor's constructor).
void attach_metadata(const UOp* u);

}  // namespace fg
