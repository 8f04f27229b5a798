// The Op enum, op names, op groups and op sets, all generated from ops.def.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string_view>

namespace fg {

enum OpGroupBit : uint32_t {
  G_ALU = 1u << 0, G_UNARY = 1u << 1, G_BINARY = 1u << 2, G_TERNARY = 1u << 3,
  G_COMMUTATIVE = 1u << 4, G_ASSOCIATIVE = 1u << 5, G_IDEMPOTENT = 1u << 6,
  G_COMPARISON = 1u << 7, G_MOVEMENT = 1u << 8, G_REDUCE_GROUP = 1u << 9, G_CAST = 1u << 10,
  G_LEAF = 1u << 11, G_DEFINE = 1u << 12, G_INT_ONLY = 1u << 13, G_FLOAT_ONLY = 1u << 14,
};

enum class Op : uint8_t {
#define OP(name, groups, contract) name,
#include "femtograd/ir/ops.def"
#undef OP
  COUNT
};
constexpr int kNumOps = static_cast<int>(Op::COUNT);
static_assert(kNumOps <= 128, "OpSet holds 128 ops");

inline constexpr uint32_t kOpGroups[] = {
#define OP(name, groups, contract) (groups),
#include "femtograd/ir/ops.def"
#undef OP
};
static_assert(std::size(kOpGroups) == kNumOps, "one group mask per op");

inline constexpr std::string_view kOpNames[] = {
#define OP(name, groups, contract) #name,
#include "femtograd/ir/ops.def"
#undef OP
};
static_assert(std::size(kOpNames) == kNumOps, "one name per op");

inline constexpr std::string_view kOpContracts[] = {
#define OP(name, groups, contract) contract,
#include "femtograd/ir/ops.def"
#undef OP
};
static_assert(std::size(kOpContracts) == kNumOps, "one contract per op");

constexpr std::string_view op_name(Op op) { return kOpNames[static_cast<int>(op)]; }
constexpr bool op_in(Op op, uint32_t groups) { return (kOpGroups[static_cast<int>(op)] & groups) != 0; }
constexpr bool is_alu(Op op) { return op_in(op, G_ALU); }
constexpr bool is_unary(Op op) { return op_in(op, G_UNARY); }
constexpr bool is_binary(Op op) { return op_in(op, G_BINARY); }
constexpr bool is_ternary(Op op) { return op_in(op, G_TERNARY); }
constexpr bool is_commutative(Op op) { return op_in(op, G_COMMUTATIVE); }
constexpr bool is_associative(Op op) { return op_in(op, G_ASSOCIATIVE); }
constexpr bool is_comparison(Op op) { return op_in(op, G_COMPARISON); }
constexpr bool is_movement(Op op) { return op_in(op, G_MOVEMENT); }

// A set of ops as a 128-bit mask.
struct OpSet {
  uint64_t lo = 0, hi = 0;
  constexpr OpSet() = default;
  constexpr OpSet(Op op) { add(op); }
  constexpr OpSet(std::initializer_list<Op> ops) { for (Op o : ops) add(o); }
  static constexpr OpSet from_groups(uint32_t groups) {
    OpSet s;
    for (int i = 0; i < kNumOps; i++)
      if (kOpGroups[i] & groups) s.add(static_cast<Op>(i));
    return s;
  }
  static constexpr OpSet all() {
    OpSet s;
    for (int i = 0; i < kNumOps; i++) s.add(static_cast<Op>(i));
    return s;
  }
  constexpr void add(Op op) {
    int i = static_cast<int>(op);
    if (i < 64) lo |= 1ULL << i; else hi |= 1ULL << (i - 64);
  }
  constexpr bool has(Op op) const {
    int i = static_cast<int>(op);
    return i < 64 ? (lo >> i) & 1 : (hi >> (i - 64)) & 1;
  }
  constexpr bool empty() const { return lo == 0 && hi == 0; }
  constexpr bool contains_all(OpSet o) const { return (o.lo & ~lo) == 0 && (o.hi & ~hi) == 0; }
  constexpr OpSet operator|(OpSet o) const { OpSet s; s.lo = lo | o.lo; s.hi = hi | o.hi; return s; }
  constexpr OpSet operator&(OpSet o) const { OpSet s; s.lo = lo & o.lo; s.hi = hi & o.hi; return s; }
  constexpr bool operator==(const OpSet&) const = default;
  int count() const { return __builtin_popcountll(lo) + __builtin_popcountll(hi); }
};

namespace opgroups {
inline constexpr OpSet ALU = OpSet::from_groups(G_ALU);
inline constexpr OpSet Unary = OpSet::from_groups(G_UNARY);
inline constexpr OpSet Binary = OpSet::from_groups(G_BINARY);
inline constexpr OpSet Ternary = OpSet::from_groups(G_TERNARY);
inline constexpr OpSet Movement = OpSet::from_groups(G_MOVEMENT);
inline constexpr OpSet Comparison = OpSet::from_groups(G_COMPARISON);
inline constexpr OpSet Commutative = OpSet::from_groups(G_COMMUTATIVE);
inline constexpr OpSet Defines = OpSet::from_groups(G_DEFINE);
}  // namespace opgroups

}  // namespace fg
