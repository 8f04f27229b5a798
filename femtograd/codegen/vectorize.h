// Vectorize: turns the lane range of a VECTOR opt into SIMD values. Guarantees: afterwards no
// RANGE of AxisType AXIS_UPCAST remains; every node that depended on it has a vector dtype of
// the lane count; loads and stores whose index walks the lanes with stride 1 are single vector
// loads and stores; other lane-dependent accesses become one scalar access per lane; a REDUCE
// over the lanes keeps its scalar dtype with a vector source (the linearizer sums the lanes).
#pragma once
#include "femtograd/ir/uop.h"

namespace fg {

UOpRef vectorize(const UOpRef& sink);

}  // namespace fg
