// Printing UOps for people: one node per line, or an expression in C-like syntax.
#include <sstream>
#include <unordered_map>

#include "femtograd/ir/uop.h"

namespace fg {

std::string UOp::line() const {
  std::ostringstream os;
  os << op_name(op) << " " << dtype.name();
  if (!arg.none()) os << " arg=" << arg.str();
  return os.str();
}

std::string UOp::str() const {
  std::ostringstream os;
  std::unordered_map<const UOp*, int> id;
  for (const UOp* n : toposort()) {
    int i = static_cast<int>(id.size());
    id[n] = i;
    os << "%" << i << " = " << op_name(n->op) << " " << n->dtype.name();
    if (n->nsrc()) {
      os << " (";
      for (size_t k = 0; k < n->nsrc(); k++) os << (k ? ", %" : "%") << id[n->src(k).get()];
      os << ")";
    }
    if (!n->arg.none()) os << " " << n->arg.str();
    os << "\n";
  }
  return os.str();
}

namespace {
const char* infix(Op op) {
  switch (op) {
    case Op::ADD: return "+";
    case Op::MUL: return "*";
    case Op::IDIV: return "//";
    case Op::MOD: return "%";
    case Op::FDIV: return "/";
    case Op::CMPLT: return "<";
    case Op::CMPNE: return "!=";
    case Op::CMPEQ: return "==";
    case Op::AND: return "&";
    case Op::OR: return "|";
    case Op::XOR: return "^";
    case Op::SHL: return "<<";
    case Op::SHR: return ">>";
    default: return nullptr;
  }
}
}  // namespace

std::string UOp::expr() const {
  std::unordered_map<const UOp*, std::string> text;
  for (const UOp* n : toposort()) {
    std::string s;
    if (n->op == Op::CONST) s = n->arg.str();
    else if (n->op == Op::DEFINE_VAR) s = n->arg.as_var().name;
    else if (n->op == Op::RANGE) s = "r" + std::to_string(n->arg.as_ints()[0]);
    else if (n->op == Op::SPECIAL) s = n->arg.as_str();
    else if (const char* o = infix(n->op); o && n->nsrc() == 2)
      s = "(" + text[n->src(0).get()] + o + text[n->src(1).get()] + ")";
    else if (n->op == Op::WHERE)
      s = "(" + text[n->src(0).get()] + "?" + text[n->src(1).get()] + ":" + text[n->src(2).get()] + ")";
    else if (n->op == Op::CAST)
      s = "(" + n->dtype.name() + ")" + text[n->src(0).get()];
    else {
      s = std::string(op_name(n->op)) + "(";
      for (size_t k = 0; k < n->nsrc(); k++) s += (k ? ", " : "") + text[n->src(k).get()];
      s += ")";
    }
    text[n] = std::move(s);
  }
  return text[this];
}

}  // namespace fg
