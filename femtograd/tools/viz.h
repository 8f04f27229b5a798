// VIZ: records every graph_rewrite of a run (the pass, the graph before and after, each rule that
// fired with its file:line and the node it rewrote) and every generated kernel's source, and serves
// them as a local web page (127.0.0.1 only, no external assets) that steps through them.
// Records hold text only, never nodes, so recording keeps no graph or buffer alive.
// C++: fg::viz::enable() before the work, fg::viz::serve() after (or serve_if_enabled() at the end
// of main to honor VIZ=1). Python: VIZ=1 records from import and serves at exit.
#pragma once
#include <cstddef>
#include <string>

namespace fg::viz {

void enable();   // starts recording (idempotent)
void disable();  // stops recording; records stay
void clear();    // drops the records

// Serves the page on 127.0.0.1:port (0: any free port) from a background thread; returns the port.
int serve(int port = 0);
void stop();  // stops the server
// With VIZ=1: serves on port 8000 (or any free one if taken), prints the address and blocks until
// stop() is called from another thread or the process ends. Does nothing when VIZ is 0.
void serve_if_enabled();

size_t rewrite_count();  // passes recorded (those where a rule fired)
size_t kernel_count();   // kernel sources recorded
std::string rewrites_json();               // [{"i":0,"pass":"...","fired":3}, ...]
std::string rewrite_json(size_t i);        // one pass: before, after, rules
std::string kernels_json();                // [{"name":"E_4","source":"..."}, ...]

}  // namespace fg::viz
