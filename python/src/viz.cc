// Bindings of the VIZ recorder and server (tools/viz.h). The package turns recording on at import
// when VIZ=1 and serves the page at exit.
#include "common.h"
#include "femtograd/tools/viz.h"

namespace fgpy {

void init_viz(nb::module_& m) {
  m.def("viz_enable", &fg::viz::enable, "Starts recording graph rewrites and kernel sources.");
  m.def("viz_disable", &fg::viz::disable, "Stops recording (the records stay).");
  m.def("viz_clear", &fg::viz::clear, "Drops the records.");
  m.def("viz_serve", [](int port) {
    int p;
    {
      nb::gil_scoped_release unlocked;  // the server thread never takes the GIL; keep it free anyway
      p = fg::viz::serve(port);
    }
    return p;
  }, "port"_a = 0, "Serves the VIZ page on 127.0.0.1:port (0: a free port) in the background; returns the port.");
  m.def("viz_stop", &fg::viz::stop, "Stops the VIZ server.");
  m.def("viz_serve_if_enabled", []() {
    nb::gil_scoped_release unlocked;
    fg::viz::serve_if_enabled();
  }, "With VIZ=1: serves the page and blocks until the process is interrupted.");
  m.def("viz_counts", []() { return std::make_pair(fg::viz::rewrite_count(), fg::viz::kernel_count()); },
        "(rewrites recorded, kernel sources recorded)");
}

}  // namespace fgpy
