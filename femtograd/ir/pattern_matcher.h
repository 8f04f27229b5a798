// PatternMatcher: an ordered list of rules UPat -> function, built once (a static const), indexed
// by the root op with an early reject on the ops of the node's sources. Each rule records where it
// was written (std::source_location), so errors, DEBUG and VIZ can name the rule that fired.
#pragma once
#include <array>
#include <functional>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

#include "femtograd/ir/upat.h"

namespace fg {

struct Rule {
  using Fn = std::function<UOpRef(const Match&, void* ctx)>;
  UPat pat;
  Fn fn;
  std::source_location loc;
  bool may_change_dtype = false;  // a lowering rule that turns a node into another dtype on purpose

  // fn: UOpRef(const Match&) or UOpRef(const Match&, Ctx&); returning null declines the rewrite
  template <class F>
  Rule(UPat p, F f, std::source_location l = std::source_location::current())
      : pat(std::move(p)), fn(wrap(std::move(f))), loc(l) {}
  // shorthand for `pattern -> capture`, as in {x * 1, x}
  Rule(UPat p, const UPat& result, std::source_location l = std::source_location::current())
      : pat(std::move(p)), loc(l) {
    int slot = result.slot();
    fn = [slot](const Match& m, void*) { return UOpRef::share(m.get_slot(slot)); };
  }
  Rule changes_dtype() && { may_change_dtype = true; return std::move(*this); }
  std::string where() const;  // "ir/symbolic.cc:42"

 private:
  template <class F>
  static Fn wrap(F f) {
    if constexpr (std::is_invocable_v<F, const Match&>) {
      return [f = std::move(f)](const Match& m, void*) -> UOpRef { return f(m); };
    } else {
      return [f = std::move(f)](const Match& m, void* ctx) -> UOpRef {
        using Arg2 = typename FirstCtxArg<decltype(&F::operator())>::type;
        return f(m, *static_cast<Arg2*>(ctx));
      };
    }
  }
  template <class T> struct FirstCtxArg;
  template <class C, class R, class A1, class A2>
  struct FirstCtxArg<R (C::*)(A1, A2) const> { using type = std::remove_reference_t<A2>; };
};

class PatternMatcher {
 public:
  PatternMatcher(std::vector<Rule> rules);
  PatternMatcher operator+(const PatternMatcher& o) const;

  // The first rule that matches n and returns a node; null when none does. `fired` gets the rule.
  UOpRef rewrite(const UOp* n, void* ctx, Match& scratch, const Rule** fired = nullptr) const;
  UOpRef rewrite(const UOp* n, void* ctx = nullptr) const;

  const std::vector<Rule>& rules() const { return rules_; }

 private:
  void index();
  std::vector<Rule> rules_;
  std::vector<OpSet> required_;                        // per rule: ops its sources must include
  std::array<std::vector<uint32_t>, kNumOps> by_op_;  // rule numbers to try for each root op
};

}  // namespace fg
