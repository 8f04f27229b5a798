// DType: sizes, ranges, predicates, vector and pointer variants, names, and type promotion.
#include <gtest/gtest.h>

#include <cfloat>
#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "femtograd/base/dtype.h"
#include "femtograd/base/error.h"

using namespace fg;
namespace d = fg::dtypes;

TEST(DType, Itemsize) {
  EXPECT_EQ(d::bool_.itemsize(), 1);
  EXPECT_EQ(d::int8.itemsize(), 1);
  EXPECT_EQ(d::uint8.itemsize(), 1);
  EXPECT_EQ(d::int16.itemsize(), 2);
  EXPECT_EQ(d::uint16.itemsize(), 2);
  EXPECT_EQ(d::int32.itemsize(), 4);
  EXPECT_EQ(d::uint32.itemsize(), 4);
  EXPECT_EQ(d::int64.itemsize(), 8);
  EXPECT_EQ(d::uint64.itemsize(), 8);
  EXPECT_EQ(d::float16.itemsize(), 2);
  EXPECT_EQ(d::bfloat16.itemsize(), 2);
  EXPECT_EQ(d::float32.itemsize(), 4);
  EXPECT_EQ(d::float64.itemsize(), 8);
  EXPECT_EQ(d::fp8e4m3.itemsize(), 1);
  EXPECT_EQ(d::fp8e5m2.itemsize(), 1);
  EXPECT_EQ(d::index.itemsize(), 8);
  EXPECT_EQ(d::void_.itemsize(), 0);
  // vectors count every lane; pointers are pointer-sized whatever they point to
  EXPECT_EQ(d::float32.vec(4).itemsize(), 16);
  EXPECT_EQ(d::float16.vec(8).itemsize(), 16);
  EXPECT_EQ(d::float32.ptr().itemsize(), 8);
  EXPECT_EQ(d::int8.vec(4).ptr(10).itemsize(), 8);
  EXPECT_EQ(d::float16.bits(), 16);
  EXPECT_EQ(d::float16.vec(4).bits(), 16);  // bits of one element
  EXPECT_EQ(DType::scalar_itemsize(ScalarType::BFloat16), 2);
}

TEST(DType, MinMax) {
  EXPECT_EQ(d::bool_.min_value(), 0);
  EXPECT_EQ(d::bool_.max_value(), 1);
  EXPECT_EQ(d::int8.min_value(), -128);
  EXPECT_EQ(d::int8.max_value(), 127);
  EXPECT_EQ(d::uint8.min_value(), 0);
  EXPECT_EQ(d::uint8.max_value(), 255);
  EXPECT_EQ(d::int16.min_value(), -32768);
  EXPECT_EQ(d::uint16.max_value(), 65535);
  EXPECT_EQ(d::int32.min_value(), -2147483648.0);
  EXPECT_EQ(d::int32.max_value(), 2147483647.0);
  EXPECT_EQ(d::uint32.max_value(), 4294967295.0);
  EXPECT_EQ(d::float16.max_value(), 65504.0);
  EXPECT_EQ(d::float16.min_value(), -65504.0);
  // bfloat16's largest finite value is (2 - 2^-7) * 2^127; as a float it is exact
  EXPECT_EQ(static_cast<float>(d::bfloat16.max_value()), 3.3895313892515355e38f);
  EXPECT_EQ(d::float32.max_value(), static_cast<double>(FLT_MAX));
  EXPECT_EQ(d::float32.min_value(), -static_cast<double>(FLT_MAX));
  EXPECT_EQ(d::float64.max_value(), DBL_MAX);
  EXPECT_EQ(d::fp8e4m3.max_value(), 448.0);
  EXPECT_EQ(d::fp8e5m2.max_value(), 57344.0);

  EXPECT_EQ(d::int8.int_min(), -128);
  EXPECT_EQ(d::int8.int_max(), 127);
  EXPECT_EQ(d::uint32.int_max(), 4294967295LL);
  EXPECT_EQ(d::int64.int_min(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(d::int64.int_max(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(d::index.int_min(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(d::index.int_max(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(d::uint64.int_min(), 0);
  EXPECT_EQ(d::uint64.int_max(), std::numeric_limits<int64_t>::max());  // saturates
  EXPECT_EQ(d::bool_.int_max(), 1);
  // a vector has the range of its element
  EXPECT_EQ(d::int8.vec(4).int_max(), 127);
}

TEST(DType, Predicates) {
  for (DType f : {d::float16, d::bfloat16, d::float32, d::float64, d::fp8e4m3, d::fp8e5m2}) {
    EXPECT_TRUE(f.is_float()) << f.name();
    EXPECT_FALSE(f.is_int()) << f.name();
    EXPECT_FALSE(f.is_unsigned()) << f.name();
    EXPECT_FALSE(f.is_bool()) << f.name();
  }
  for (DType i : {d::int8, d::int16, d::int32, d::int64, d::index}) {
    EXPECT_TRUE(i.is_int()) << i.name();
    EXPECT_FALSE(i.is_unsigned()) << i.name();
    EXPECT_FALSE(i.is_float()) << i.name();
  }
  for (DType u : {d::uint8, d::uint16, d::uint32, d::uint64}) {
    EXPECT_TRUE(u.is_int()) << u.name();
    EXPECT_TRUE(u.is_unsigned()) << u.name();
  }
  EXPECT_TRUE(d::bool_.is_bool());
  EXPECT_FALSE(d::bool_.is_int());
  EXPECT_FALSE(d::bool_.is_float());
  EXPECT_FALSE(d::bool_.is_unsigned());
  EXPECT_TRUE(d::bool_.vec(4).is_bool());
  EXPECT_TRUE(d::fp8e4m3.is_fp8());
  EXPECT_TRUE(d::fp8e5m2.is_fp8());
  EXPECT_FALSE(d::float16.is_fp8());
  EXPECT_FALSE(d::void_.is_int() || d::void_.is_float() || d::void_.is_bool());
  // vectors keep the kind of their element
  EXPECT_TRUE(d::float32.vec(4).is_float());
  EXPECT_TRUE(d::float32.vec(4).is_vec());
  EXPECT_FALSE(d::float32.is_vec());
  // a pointer is neither a float, an int nor a bool, whatever it points to
  DType p = d::float32.ptr(16);
  EXPECT_TRUE(p.is_ptr());
  EXPECT_FALSE(p.is_float());
  EXPECT_FALSE(d::int32.ptr().is_int());
  EXPECT_FALSE(d::uint8.ptr().is_unsigned());
  EXPECT_FALSE(d::bool_.ptr().is_bool());
  EXPECT_FALSE(d::float32.is_ptr());
}

TEST(DType, VectorAndPointerVariants) {
  DType v = d::float32.vec(4);
  EXPECT_EQ(v.count, 4);
  EXPECT_EQ(v.scalar, ScalarType::Float32);
  EXPECT_EQ(v.scalar_type(), d::float32);
  EXPECT_NE(v, d::float32);
  EXPECT_EQ(v.vec(1), d::float32);

  DType p = d::float32.ptr(16);
  EXPECT_EQ(p.space, AddrSpace::Global);
  EXPECT_EQ(p.size, 16);
  EXPECT_EQ(p.base(), d::float32);
  EXPECT_EQ(p.scalar_type(), d::float32);
  EXPECT_NE(p, d::float32.ptr());  // size is part of the type
  EXPECT_NE(p, d::float32.ptr(16, AddrSpace::Local));
  EXPECT_EQ(d::float32.ptr().size, -1);

  DType pv = d::float16.vec(4).ptr(8, AddrSpace::Local);  // pointer to float16x4
  EXPECT_EQ(pv.count, 4);
  EXPECT_EQ(pv.base(), d::float16.vec(4));
  EXPECT_EQ(pv.scalar_type(), d::float16);

  // constexpr: usable at compile time
  static_assert(dtypes::float32.vec(4).count == 4);
  static_assert(dtypes::int8.ptr(3).is_ptr());
  static_assert(dtypes::int8.ptr(3).base() == dtypes::int8);
}

TEST(DType, Names) {
  EXPECT_EQ(d::float32.name(), "float32");
  EXPECT_EQ(d::bool_.name(), "bool");
  EXPECT_EQ(d::bfloat16.name(), "bfloat16");
  EXPECT_EQ(d::fp8e4m3.name(), "fp8e4m3");
  EXPECT_EQ(d::index.name(), "index");
  EXPECT_EQ(d::void_.name(), "void");
  EXPECT_EQ(d::int8.vec(4).name(), "int8.vec(4)");
  EXPECT_EQ(d::float32.ptr().name(), "float32*");
  EXPECT_EQ(d::float32.ptr(16).name(), "float32*[16]");
  EXPECT_EQ(d::float32.ptr(16, AddrSpace::Local).name(), "float32*local[16]");
  EXPECT_EQ(d::float32.ptr(-1, AddrSpace::Reg).name(), "float32*reg");
  EXPECT_EQ(d::float16.vec(4).ptr(8).name(), "float16.vec(4)*[8]");
}

TEST(DType, FromName) {
  int n = 0;
  const DType* all = d::all_storable(&n);
  for (int i = 0; i < n; i++) EXPECT_EQ(d::from_name(all[i].name()), all[i]) << all[i].name();
  EXPECT_EQ(d::from_name("index"), d::index);
  EXPECT_EQ(d::from_name("void"), d::void_);
  // aliases from C, numpy and PyTorch
  EXPECT_EQ(d::from_name("half"), d::float16);
  EXPECT_EQ(d::from_name("float"), d::float32);
  EXPECT_EQ(d::from_name("double"), d::float64);
  EXPECT_EQ(d::from_name("bf16"), d::bfloat16);
  EXPECT_EQ(d::from_name("int"), d::int32);
  EXPECT_EQ(d::from_name("long"), d::int64);
  EXPECT_EQ(d::from_name("char"), d::int8);
  EXPECT_EQ(d::from_name("uchar"), d::uint8);
  EXPECT_EQ(d::from_name("short"), d::int16);
  EXPECT_EQ(d::from_name("uint"), d::uint32);
  EXPECT_EQ(d::from_name("ulong"), d::uint64);
  EXPECT_EQ(d::from_name("float8_e4m3fn"), d::fp8e4m3);
  EXPECT_EQ(d::from_name("float8_e5m2"), d::fp8e5m2);
  try {
    d::from_name("float33");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_EQ(e.op(), "dtype");
    EXPECT_NE(std::string(e.what()).find("'float33'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(d::from_name(""), Error);
  EXPECT_THROW(d::from_name("Float32"), Error);  // names are case sensitive
}

TEST(DType, AllStorable) {
  int n = 0;
  const DType* all = d::all_storable(&n);
  EXPECT_EQ(n, 15);
  std::set<std::string> names;
  for (int i = 0; i < n; i++) {
    EXPECT_NE(all[i], d::void_);
    EXPECT_NE(all[i], d::index);
    EXPECT_FALSE(all[i].is_vec() || all[i].is_ptr());
    names.insert(all[i].name());
  }
  EXPECT_EQ(names.size(), static_cast<size_t>(n));
}

TEST(DType, EqualityAndHash) {
  EXPECT_EQ(d::float32, DType(ScalarType::Float32));
  EXPECT_EQ(d::float32.hash(), DType(ScalarType::Float32).hash());
  EXPECT_EQ(d::int8.vec(4).ptr(3).hash(), d::int8.vec(4).ptr(3).hash());
  // every variant hashes differently
  std::set<uint64_t> hashes;
  std::vector<DType> variants;
  int n = 0;
  const DType* all = d::all_storable(&n);
  for (int i = 0; i < n; i++) {
    DType t = all[i];
    for (DType v : {t, t.vec(2), t.vec(4), t.ptr(), t.ptr(16), t.ptr(16, AddrSpace::Local),
                    t.ptr(-1, AddrSpace::Reg), t.vec(4).ptr()})
      variants.push_back(v);
  }
  for (const DType& v : variants) hashes.insert(v.hash());
  EXPECT_EQ(hashes.size(), variants.size());
}

// torch.promote_types for every pair of PyTorch's core dtypes, written out by hand from PyTorch's
// promotion lattice (checked against torch 1.13.1, Debian's python3-torch). Row a, column b.
TEST(DTypePromote, MatchesPyTorchTable) {
  const DType b = d::bool_, u8 = d::uint8, i8 = d::int8, i16 = d::int16, i32 = d::int32,
              i64 = d::int64, f16 = d::float16, bf16 = d::bfloat16, f32 = d::float32,
              f64 = d::float64;
  const DType order[10] = {b, u8, i8, i16, i32, i64, f16, bf16, f32, f64};
  // clang-format off
  const DType table[10][10] = {
      //          bool  uint8 int8  int16 int32 int64 f16   bf16  f32   f64
      /* bool  */ {b,    u8,   i8,   i16,  i32,  i64,  f16,  bf16, f32,  f64},
      /* uint8 */ {u8,   u8,   i16,  i16,  i32,  i64,  f16,  bf16, f32,  f64},
      /* int8  */ {i8,   i16,  i8,   i16,  i32,  i64,  f16,  bf16, f32,  f64},
      /* int16 */ {i16,  i16,  i16,  i16,  i32,  i64,  f16,  bf16, f32,  f64},
      /* int32 */ {i32,  i32,  i32,  i32,  i32,  i64,  f16,  bf16, f32,  f64},
      /* int64 */ {i64,  i64,  i64,  i64,  i64,  i64,  f16,  bf16, f32,  f64},
      /* f16   */ {f16,  f16,  f16,  f16,  f16,  f16,  f16,  f32,  f32,  f64},
      /* bf16  */ {bf16, bf16, bf16, bf16, bf16, bf16, f32,  bf16, f32,  f64},
      /* f32   */ {f32,  f32,  f32,  f32,  f32,  f32,  f32,  f32,  f32,  f64},
      /* f64   */ {f64,  f64,  f64,  f64,  f64,  f64,  f64,  f64,  f64,  f64},
  };
  // clang-format on
  for (int r = 0; r < 10; r++)
    for (int c = 0; c < 10; c++) {
      EXPECT_EQ(table[r][c], table[c][r]) << "the table itself must be symmetric";
      EXPECT_EQ(promote(order[r], order[c]), table[r][c])
          << "promote(" << order[r].name() << ", " << order[c].name() << ") gave "
          << promote(order[r], order[c]).name() << ", PyTorch gives " << table[r][c].name();
    }
}

// uint16/32/64 and fp8: PyTorch leaves most of these pairs undefined; dtype.cc follows numpy for
// mixed-sign integers (the smallest signed type holding both; uint64 with a signed type gives
// float64), lets a float win over any integer, and ranks fp8 < 16-bit floats < float32 < float64.
TEST(DTypePromote, UnsignedFp8AndIndexAsDocumented) {
  struct Case {
    DType a, b, want;
  };
  const Case cases[] = {
      // unsigned with unsigned: the wider
      {d::uint16, d::uint8, d::uint16},
      {d::uint32, d::uint16, d::uint32},
      {d::uint64, d::uint8, d::uint64},
      {d::uint64, d::uint32, d::uint64},
      // mixed signs: the smallest signed type that holds both
      {d::uint16, d::int8, d::int32},
      {d::uint16, d::int16, d::int32},
      {d::uint16, d::int32, d::int32},
      {d::uint16, d::int64, d::int64},
      {d::uint32, d::int8, d::int64},
      {d::uint32, d::int32, d::int64},
      {d::uint32, d::int64, d::int64},
      {d::uint64, d::int8, d::float64},
      {d::uint64, d::int64, d::float64},
      {d::uint8, d::int64, d::int64},
      // bool with anything is the other type; a float wins over any integer
      {d::bool_, d::uint32, d::uint32},
      {d::bool_, d::uint64, d::uint64},
      {d::uint16, d::float16, d::float16},
      {d::uint64, d::bfloat16, d::bfloat16},
      {d::uint32, d::float32, d::float32},
      // fp8
      {d::fp8e4m3, d::fp8e5m2, d::float16},
      {d::fp8e4m3, d::fp8e4m3, d::fp8e4m3},
      {d::fp8e4m3, d::float16, d::float16},
      {d::fp8e5m2, d::bfloat16, d::bfloat16},
      {d::fp8e4m3, d::float32, d::float32},
      {d::fp8e5m2, d::float64, d::float64},
      {d::fp8e4m3, d::int64, d::fp8e4m3},
      {d::fp8e5m2, d::uint8, d::fp8e5m2},
      {d::fp8e4m3, d::bool_, d::fp8e4m3},
      // index math: index absorbs integers and bool, floats win
      {d::index, d::int32, d::index},
      {d::index, d::uint64, d::index},
      {d::index, d::bool_, d::index},
      {d::index, d::float16, d::float16},
      {d::index, d::index, d::index},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(promote(c.a, c.b), c.want)
        << "promote(" << c.a.name() << ", " << c.b.name() << ") gave " << promote(c.a, c.b).name();
    EXPECT_EQ(promote(c.b, c.a), c.want)
        << "promote(" << c.b.name() << ", " << c.a.name() << ") gave " << promote(c.b, c.a).name();
  }
}

TEST(DTypePromote, SymmetricOverAllStorable) {
  int n = 0;
  const DType* all = d::all_storable(&n);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      DType p = promote(all[i], all[j]);
      EXPECT_EQ(p, promote(all[j], all[i])) << all[i].name() << ", " << all[j].name();
      // the result is one of the pair or wider: it never loses the kind float
      if (all[i].is_float() || all[j].is_float()) EXPECT_TRUE(p.is_float()) << p.name();
    }
}

TEST(DTypePromote, VectorsPromoteTheirElements) {
  EXPECT_EQ(promote(d::float32.vec(4), d::int8), d::float32);
  EXPECT_EQ(promote(d::int8.vec(4), d::int8.vec(4)), d::int8);
}

TEST(DTypePromote, PointersAndVoidAreTypeErrors) {
  try {
    promote(d::float32.ptr(), d::float32);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Type);
    EXPECT_NE(std::string(e.what()).find("float32*"), std::string::npos) << e.what();
  }
  EXPECT_THROW(promote(d::void_, d::int32), Error);
  EXPECT_THROW(promote(d::int32, d::void_), Error);
}

TEST(DTypePromote, LeastUpperFloat) {
  EXPECT_EQ(least_upper_float(d::int32), d::float32);
  EXPECT_EQ(least_upper_float(d::uint8), d::float32);
  EXPECT_EQ(least_upper_float(d::bool_), d::float32);
  EXPECT_EQ(least_upper_float(d::int64), d::float32);
  EXPECT_EQ(least_upper_float(d::float16), d::float16);
  EXPECT_EQ(least_upper_float(d::bfloat16), d::bfloat16);
  EXPECT_EQ(least_upper_float(d::float64), d::float64);
  EXPECT_EQ(least_upper_float(d::float16.vec(4)), d::float16);
  EXPECT_EQ(d::default_float, d::float32);
  EXPECT_EQ(d::default_int, d::int32);
}
