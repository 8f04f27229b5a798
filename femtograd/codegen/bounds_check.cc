// CHECK_OOB with z3 (bounds_check.h). The linear program is read once: loop indices, thread ids and
// run-time variables become integer unknowns inside their ranges (a loop index only for the
// accesses inside its loop, so an empty loop proves nothing outside it); each load and store asks z3
// whether its index can leave [0, size - width] while its gate and enclosing IF conditions hold.
// z3 answers "no" (proved) or gives a model: the counterexample the error reports.
#include "femtograd/codegen/bounds_check.h"

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <tuple>
#include <unordered_map>

#include "femtograd/base/error.h"

#ifdef FG_HAVE_Z3
#include <z3++.h>
#endif

namespace fg {

#ifndef FG_HAVE_Z3

bool bounds_check_available() { return false; }

int64_t check_bounds(const KernelProgram& prog, const std::vector<int64_t>&) {
  fail(ErrorKind::NotImplemented, "CHECK_OOB",
       "this femtograd was built without z3, so kernel ", prog.name,
       " cannot be checked: install libz3-dev (scripts/install_deps.sh) and rebuild");
}

#else

bool bounds_check_available() { return true; }

namespace {

// translates the integer and bool values of one program into z3 terms, per vector lane
class Translator {
 public:
  explicit Translator(z3::context& c) : ctx_(c), facts_(c) {}

  // the value of u (lane `lane` of a vector) as a z3 Int (integers) or Bool
  z3::expr of(const UOp* u, int64_t lane = 0) {
    auto key = std::make_pair(u, u->dtype.count > 1 ? lane : 0);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    z3::expr e = build(u, key.second);
    memo_.emplace(key, e);
    return e;
  }
  // facts every value satisfies (loop bounds, bounds of unknowns), added as they are met
  z3::expr_vector& facts() { return facts_; }
  // the named unknowns in the graph of u, for a counterexample
  void symbols_of(const UOp* u, std::set<std::string>& out) const {
    for (const UOp* n : u->toposort())
      if (auto it = names_.find(n); it != names_.end()) out.insert(it->second);
  }
  const std::map<std::string, z3::expr>& symbols() const { return syms_; }
  // 0 <= r < end for a RANGE node (a loop that runs zero times has none: what is inside never runs)
  z3::expr range_bounds(const UOp* r) {
    of(r);
    return range_bounds_.at(r);
  }
  // the RANGEs in the graph of u
  static void ranges_of(const UOp* u, std::vector<const UOp*>& out) {
    for (const UOp* n : u->toposort())
      if (n->op == Op::RANGE) out.push_back(n);
  }

 private:
  z3::expr unknown(const UOp* u, const std::string& name, bool is_bool) {
    if (is_bool) return named(u, name, ctx_.bool_const(name.c_str()));
    z3::expr v = named(u, name, ctx_.int_const(name.c_str()));
    if (u->dtype.is_int() || u->dtype.is_bool()) {  // node bounds hold for every value it takes
      facts_.push_back(v >= ctx_.int_val(u->vmin()));
      facts_.push_back(v <= ctx_.int_val(u->vmax()));
    }
    return v;
  }
  z3::expr named(const UOp* u, const std::string& name, z3::expr e) {
    names_[u] = name;
    syms_.emplace(name, e);
    return e;
  }
  std::string fresh(const char* what) { return std::string(what) + std::to_string(counter_++); }

  z3::expr as_int(const z3::expr& e) { return e.is_bool() ? z3::ite(e, ctx_.int_val(1), ctx_.int_val(0)) : e; }
  z3::expr as_bool(const z3::expr& e) { return e.is_bool() ? e : e != ctx_.int_val(0); }

  // C division and remainder: the quotient rounds toward zero, the remainder has a's sign
  z3::expr cdiv(const z3::expr& a, const z3::expr& b) {
    z3::expr q = z3::abs(a) / z3::abs(b);  // z3's division of non-negatives is floor division
    return z3::ite((a >= 0) == (b >= 0), q, -q);
  }
  z3::expr cmod(const z3::expr& a, const z3::expr& b) { return a - b * cdiv(a, b); }

  z3::expr build(const UOp* u, int64_t lane) {
    bool is_bool = u->dtype.scalar == ScalarType::Bool;
    auto s = [&](size_t i) { return of(u->src(i).get(), lane); };
    switch (u->op) {
      case Op::CONST:
        if (u->arg.is_bool()) return ctx_.bool_val(u->arg.as_bool());
        if (u->arg.is_int()) return is_bool ? ctx_.bool_val(u->arg.as_int() != 0) : ctx_.int_val(u->arg.as_int());
        break;
      case Op::VCONST: {
        const auto& v = u->arg.as_ints();
        if (lane < static_cast<int64_t>(v.size()))
          return is_bool ? ctx_.bool_val(v[lane] != 0) : ctx_.int_val(v[lane]);
        break;
      }
      case Op::RANGE: {  // its bounds hold only inside its loop: range_bounds() gives them per access
        std::string name = "ridx" + std::to_string(u->arg.as_ints()[0]);
        if (syms_.count(name)) name = fresh((name + "_").c_str());
        z3::expr v = named(u, name, ctx_.int_const(name.c_str()));
        range_bounds_.emplace(u, (v >= 0) && (v < as_int(s(0))));
        return v;
      }
      case Op::SPECIAL: {
        std::string name = u->arg.is_str() ? u->arg.as_str() : fresh("special");
        z3::expr v = named(u, name, ctx_.int_const(name.c_str()));
        facts_.push_back(v >= 0);
        facts_.push_back(v < as_int(s(0)));
        return v;
      }
      case Op::DEFINE_VAR: {
        const VarArg& va = u->arg.as_var();
        z3::expr v = named(u, va.name, ctx_.int_const(va.name.c_str()));
        facts_.push_back(v >= ctx_.int_val(va.min));
        facts_.push_back(v <= ctx_.int_val(va.max));
        return v;
      }
      case Op::BIND: return s(0);
      case Op::GEP: {
        const auto& lanes = u->arg.as_ints();
        return of(u->src(0).get(), lanes[static_cast<size_t>(u->dtype.count > 1 ? lane : 0)]);
      }
      case Op::VECTORIZE: return of(u->src(u->nsrc() == 1 ? 0 : static_cast<size_t>(lane)).get(), 0);
      case Op::CAT: {
        int64_t l = lane;
        for (const UOpRef& x : u->src()) {
          if (l < x->dtype.count) return of(x.get(), l);
          l -= x->dtype.count;
        }
        break;
      }
      case Op::ADD: if (!is_bool) return as_int(s(0)) + as_int(s(1)); break;
      case Op::MUL: if (!is_bool) return as_int(s(0)) * as_int(s(1)); break;
      case Op::IDIV: return cdiv(as_int(s(0)), as_int(s(1)));
      case Op::MOD: return cmod(as_int(s(0)), as_int(s(1)));
      case Op::MAX:
        if (is_bool) return s(0) || s(1);
        return z3::ite(as_int(s(0)) >= as_int(s(1)), as_int(s(0)), as_int(s(1)));
      case Op::CMPLT:
        if (!u->src(0)->dtype.is_float()) return as_int(s(0)) < as_int(s(1));
        break;
      case Op::CMPNE:
        if (!u->src(0)->dtype.is_float()) return as_int(s(0)) != as_int(s(1));
        break;
      case Op::CMPEQ:
        if (!u->src(0)->dtype.is_float()) return as_int(s(0)) == as_int(s(1));
        break;
      case Op::AND: if (is_bool) return as_bool(s(0)) && as_bool(s(1)); break;
      case Op::OR: if (is_bool) return as_bool(s(0)) || as_bool(s(1)); break;
      case Op::XOR: if (is_bool) return as_bool(s(0)) != as_bool(s(1)); break;
      case Op::SHL:
        if (u->src(1)->op == Op::CONST) return as_int(s(0)) * ctx_.int_val(int64_t{1} << u->src(1)->arg.to_int());
        break;
      case Op::SHR:  // an arithmetic shift is floor division by a power of two
        if (u->src(1)->op == Op::CONST) return as_int(s(0)) / ctx_.int_val(int64_t{1} << u->src(1)->arg.to_int());
        break;
      case Op::WHERE: {
        z3::expr a = s(1), b = s(2);
        if (a.is_bool() != b.is_bool()) a = as_int(a), b = as_int(b);
        return z3::ite(as_bool(s(0)), a, b);
      }
      case Op::CAST: {
        const UOp* x = u->src(0).get();
        if (x->dtype.is_float()) break;
        if (is_bool) return as_bool(s(0));
        // a narrowing cast keeps the value when the source's bounds fit (else: an unknown)
        if (u->dtype.is_int() && (u->dtype.scalar == ScalarType::Index || x->vmin() >= u->dtype.int_min()) &&
            (u->dtype.scalar == ScalarType::Index || x->vmax() <= u->dtype.int_max()))
          return as_int(s(0));
        break;
      }
      case Op::LOAD: return unknown(u, fresh("loaded"), is_bool);
      default: break;
    }
    return unknown(u, fresh(is_bool ? "cond" : "value"), is_bool);
  }

  z3::context& ctx_;
  z3::expr_vector facts_;
  std::map<std::pair<const UOp*, int64_t>, z3::expr> memo_;
  std::unordered_map<const UOp*, std::string> names_;
  std::map<std::string, z3::expr> syms_;
  std::map<const UOp*, z3::expr> range_bounds_;
  int counter_ = 0;
};

std::string value_str(const z3::model& m, const z3::expr& e) {
  z3::expr v = m.eval(e, true);
  int64_t i = 0;
  if (v.is_numeral() && v.is_numeral_i64(i)) return std::to_string(i);  // z3 prints -3 as "(- 3)"
  return v.to_string();
}

}  // namespace

int64_t check_bounds(const KernelProgram& prog, const std::vector<int64_t>& sizes) {
  int64_t proved = 0;
  try {
    z3::context ctx;
    z3::solver solver(ctx);
    z3::params p(ctx);
    // a resource limit, not a time limit: the answer must not depend on how busy the machine is
    p.set("rlimit", 50000000u);
    solver.set(p);
    Translator tr(ctx);
    size_t facts_added = 0;
    auto add_facts = [&] {
      for (; facts_added < tr.facts().size(); facts_added++) solver.add(tr.facts()[static_cast<int>(facts_added)]);
    };
    std::vector<const UOp*> ifs;    // conditions of the IF blocks around the current line
    std::vector<const UOp*> loops;  // the loops around it
    for (const UOpRef& line : prog.lines) {
      const UOp* l = line.get();
      if (l->op == Op::IF) { ifs.push_back(l->src(0).get()); continue; }
      if (l->op == Op::ENDIF) { if (!ifs.empty()) ifs.pop_back(); continue; }
      if (l->op == Op::RANGE) { loops.push_back(l); continue; }
      if (l->op == Op::END) {
        for (size_t i = 1; i < l->nsrc(); i++) std::erase(loops, l->src(i).get());
        continue;
      }
      bool is_store = l->op == Op::STORE;
      if ((l->op != Op::LOAD && !is_store) || l->src(0)->op != Op::INDEX) continue;
      const UOp* idx = l->src(0).get();
      const UOp* buf = idx->src(0).get();
      int64_t width = is_store ? l->src(1)->dtype.count : l->dtype.count;
      int64_t size = buf->dtype.size;
      std::string what;
      if (buf->op == Op::DEFINE_GLOBAL) {
        size_t i = static_cast<size_t>(buf->arg.as_int());
        if (i < sizes.size() && sizes[i] >= 0) size = sizes[i];
        what = "buffer " + std::to_string(i);
      } else if (buf->op == Op::DEFINE_LOCAL) {
        what = "local buffer " + std::to_string(buf->arg.as_int());
      } else {
        continue;  // registers: addressed by the program itself
      }
      if (size < 0) continue;
      // the terms first (they add facts), then the question in a scope of its own
      z3::expr index = tr.of(idx->src(1).get());
      z3::expr cond = ctx.bool_val(true);
      if (idx->nsrc() > 2) cond = cond && tr.of(idx->src(2).get());
      for (const UOp* c : ifs) {
        z3::expr ce = tr.of(c);
        cond = cond && (ce.is_bool() ? ce : ce != 0);
      }
      // the loops around the access (and any loop index it reads) run inside their bounds
      std::vector<const UOp*> rs = loops;
      Translator::ranges_of(idx, rs);
      for (const UOp* c : ifs) Translator::ranges_of(c, rs);
      for (const UOp* r : rs) cond = cond && tr.range_bounds(r);
      add_facts();
      solver.push();
      solver.add(cond);
      solver.add(index < 0 || index + ctx.int_val(width) > ctx.int_val(size));
      z3::check_result r = solver.check();
      if (r == z3::unsat) {
        solver.pop();
        proved++;
        continue;
      }
      std::ostringstream msg;
      msg << "kernel " << prog.name << ": the " << (is_store ? "store to " : "load from ") << what << " ("
          << buf->dtype.base().name() << ", " << size << " elements) ";
      if (r == z3::unknown) {
        msg << "could not be proved in bounds (z3: " << solver.reason_unknown() << ")";
      } else {
        z3::model m = solver.get_model();
        msg << "can go out of bounds: index " << value_str(m, index);
        if (width > 1) msg << " (a " << width << "-wide access)";
        std::set<std::string> names;
        tr.symbols_of(idx, names);
        for (const UOp* c : ifs) tr.symbols_of(c, names);
        std::string sep = " when ";
        for (const std::string& n : names) {
          msg << sep << n << "=" << value_str(m, tr.symbols().at(n));
          sep = ", ";
        }
      }
      solver.pop();
      std::string index_text = idx->src(1)->expr();
      if (index_text.size() > 2000) index_text = index_text.substr(0, 2000) + " ...";
      msg << "\n  index: " << index_text;
      if (idx->nsrc() > 2) {
        std::string gate = idx->src(2)->expr();
        msg << "\n  gate: " << (gate.size() > 2000 ? gate.substr(0, 2000) + " ..." : gate);
      }
      fail(ErrorKind::Runtime, "CHECK_OOB", msg.str());
    }
  } catch (const z3::exception& e) {
    fail(ErrorKind::Internal, "CHECK_OOB", "z3 failed on kernel ", prog.name, ": ", e.msg());
  }
  return proved;
}

#endif  // FG_HAVE_Z3

void check_bounds_once(const KernelProgram& prog, const std::vector<int64_t>& sizes) {
  static std::mutex mu;
  // a program is known by its address, its AST, its last line and its length (a program built later
  // would have to reuse all of a freed one's addresses to be taken for it), with the buffer sizes
  using Key = std::tuple<const KernelProgram*, const UOp*, const UOp*, size_t, std::vector<int64_t>>;
  static auto* done = new std::set<Key>();
  Key key{&prog, prog.ast.get(), prog.lines.empty() ? nullptr : prog.lines.back().get(), prog.lines.size(), sizes};
  {
    std::lock_guard lock(mu);
    if (done->count(key)) return;
  }
  check_bounds(prog, sizes);
  std::lock_guard lock(mu);
  done->insert(std::move(key));
}

}  // namespace fg
