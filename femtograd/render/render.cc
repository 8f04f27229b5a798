#include "femtograd/render/render.h"

#include "femtograd/base/error.h"
#include "femtograd/render/c.h"
#include "femtograd/render/cuda.h"

namespace fg {

std::string render(const std::string& lang, const KernelProgram& k) {
  if (lang == "c") return render_c(k);
  if (lang == "cuda") return render_cuda(k);
  fail(ErrorKind::NotImplemented, "render", "no renderer for language '", lang, "' (known: c, cuda)");
}

}  // namespace fg
