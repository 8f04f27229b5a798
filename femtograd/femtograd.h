// femtograd's public C++ API in one include: lazy tensors and their ops, autograd, functional nn ops,
// TinyJit, nn layers, optimizers, state files and datasets, flags and counters.
#pragma once
#include "femtograd/base/error.h"
#include "femtograd/base/flags.h"
#include "femtograd/engine/realize.h"
#include "femtograd/nn/datasets.h"
#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/nn/safetensors.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/autograd.h"
#include "femtograd/tensor/jit.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tensor/tensor_nn.h"
