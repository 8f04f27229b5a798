// Scheduling: turns the tensor graph behind the values to realize into a list of kernels.
// Guarantees: elementwise chains fuse; elementwise work before and after a reduce fuses into the
// reduce's kernel; a value is stored (becomes a kernel output) when it is a realize target, a
// CONTIGUOUS, a COPY, an ASSIGN, or a reduce whose result would otherwise be recomputed (it is
// expanded, or read by more than one node). Movement ops never make kernels. Items come in an
// order where every kernel runs after the kernels it reads from.
#pragma once
#include <string>
#include <vector>

#include "femtograd/ir/shape.h"
#include "femtograd/ir/uop.h"

namespace fg {

// The kernel AST contract (what codegen receives):
//   SINK(STORE(DEFINE_GLOBAL 0, value))
// DEFINE_GLOBAL i (arg i, dtype element.ptr(size)) stands for the contents of buffer i, shape (size,);
// the value is a tensor-level expression (movement ops, ALU, REDUCE_AXIS, CAST, CONST) over those
// parameters and tensor-level constants, with the shape of the stored node; STORE writes it
// contiguously into parameter 0. The AST holds no buffers, so equal computations on different
// buffers share one AST (and one compiled program).
struct ScheduleItem {
  enum class Kind { Kernel, Copy };
  Kind kind = Kind::Kernel;
  UOpRef ast;                 // Kernel: the AST above; Copy: null
  std::vector<UOpRef> bufs;   // BUFFER nodes in parameter order; bufs[0] is written
  std::string device;         // where it runs
  std::vector<UOpRef> outputs;  // tensor-level nodes whose value bufs[0] holds (for metadata)
};

struct Schedule {
  std::vector<ScheduleItem> items;
  // each node that was stored, with the BUFFER that now holds it (the engine marks them realized)
  std::vector<std::pair<UOpRef, UOpRef>> stored;
};

// roots: tensor-level nodes to realize. Nodes already realized (UOp::realized()) and BUFFERs are
// inputs. New BUFFER nodes are created for every stored value.
Schedule create_schedule(const std::vector<UOpRef>& roots);

// A BUFFER node with a fresh identity: BUFFER(UNIQUE n, DEVICE name), arg size.
UOpRef new_buffer(const std::string& device, DType dtype, int64_t size);
// The device name of a tensor-level node (from its BUFFER or CONST sources); "" when none.
std::string device_of(const UOp* n);

}  // namespace fg
