// base/: errors and checks, hashing (fast hashes and SHA-256 known vectors), and PtrMap.
#include <gtest/gtest.h>

#include <bitset>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/base/hash.h"
#include "femtograd/base/ptr_map.h"

using namespace fg;

// ---- errors

TEST(Error, MessageStartsWithOpThenFacts) {
  Error e(ErrorKind::Value, "reshape", "cannot reshape (3, 4) to (5,)");
  EXPECT_STREQ(e.what(), "reshape: cannot reshape (3, 4) to (5,)");
  EXPECT_EQ(e.kind(), ErrorKind::Value);
  EXPECT_EQ(e.op(), "reshape");
  // catchable as a standard exception
  try {
    throw Error(ErrorKind::Runtime, "compile", "clang failed");
  } catch (const std::runtime_error& re) {
    EXPECT_STREQ(re.what(), "compile: clang failed");
  }
}

TEST(Error, FailConcatenatesFacts) {
  try {
    fail(ErrorKind::Type, "cast", "cannot cast ", 3, " values of ", std::string("float32"), " to ",
         2.5);
    FAIL() << "fail() returned";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Type);
    EXPECT_STREQ(e.what(), "cast: cannot cast 3 values of float32 to 2.5");
  }
  EXPECT_EQ(cat("a", 1, '-', 2.5, std::string("z")), "a1-2.5z");
  EXPECT_EQ(cat(), "");
}

TEST(Error, ShapeStrPrintsLikePython) {
  EXPECT_EQ(shape_str({}), "()");
  EXPECT_EQ(shape_str({5}), "(5,)");
  EXPECT_EQ(shape_str({3, 4}), "(3, 4)");
  EXPECT_EQ(shape_str({2, 0, -1}), "(2, 0, -1)");
}

namespace {
int g_message_builds = 0;
std::string counted(const char* s) {
  g_message_builds++;
  return s;
}
}  // namespace

TEST(Error, CheckBuildsItsMessageOnlyOnFailure) {
  g_message_builds = 0;
  for (int i = 0; i < 100; i++) FG_CHECK(i >= 0, ErrorKind::Value, "loop", counted("never built"));
  EXPECT_EQ(g_message_builds, 0);
  try {
    std::vector<int64_t> a{3, 4}, b{5};
    FG_CHECK(a.size() == b.size(), ErrorKind::Value, "reshape", counted("cannot reshape "),
             shape_str(a), " to ", shape_str(b));
    FAIL() << "FG_CHECK did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(g_message_builds, 1);
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    EXPECT_STREQ(e.what(), "reshape: cannot reshape (3, 4) to (5,)");
  }
}

TEST(Error, AssertIsAnInternalErrorNamingConditionAndPlace) {
  try {
    int rank = 3;
    FG_ASSERT(rank == 2, "rank was ", rank);
    FAIL() << "FG_ASSERT did not throw";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Internal);
    EXPECT_EQ(e.op(), "internal");
    EXPECT_NE(msg.find("rank == 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("test_base.cc"), std::string::npos) << msg;
    EXPECT_NE(msg.find("rank was 3"), std::string::npos) << msg;
  }
  // without extra facts
  try {
    FG_ASSERT(1 + 1 == 3);
    FAIL() << "FG_ASSERT did not throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("1 + 1 == 3"), std::string::npos) << e.what();
  }
  FG_ASSERT(true, "no throw");
}

// ---- fast hashes

TEST(Hash, MixIsConstexprAndInjective) {
  static_assert(hash_mix(0) == 0, "splitmix64's finalizer fixes 0");
  static_assert(hash_mix(1) != hash_mix(2));
  static_assert(hash_combine(1, 2) != hash_combine(2, 1));
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < 100000; i++) seen.insert(hash_mix(i));
  EXPECT_EQ(seen.size(), 100000u);
}

// Flipping one input bit flips about half of the output bits.
TEST(Hash, MixAvalanches) {
  double total = 0;
  int samples = 0;
  for (uint64_t x = 1; x < 2000; x += 7)
    for (int bit = 0; bit < 64; bit++) {
      total += std::bitset<64>(hash_mix(x) ^ hash_mix(x ^ (1ULL << bit))).count();
      samples++;
    }
  double mean = total / samples;
  EXPECT_GT(mean, 30.0);
  EXPECT_LT(mean, 34.0);
}

TEST(Hash, CombineIsOrderSensitive) {
  uint64_t ab = hash_combine(hash_combine(7, 1), 2), ba = hash_combine(hash_combine(7, 2), 1);
  EXPECT_NE(ab, ba);
  EXPECT_NE(hash_combine(0, 0), hash_combine(0, 1));
  EXPECT_NE(hash_combine(0, 0), hash_combine(1, 0));
}

TEST(Hash, BytesDependOnEveryByteLengthAndSeed) {
  std::string buf(40, '\0');
  for (size_t i = 0; i < buf.size(); i++) buf[i] = static_cast<char>(i * 37 + 1);
  EXPECT_EQ(hash_bytes(buf.data(), buf.size()), hash_bytes(buf.data(), buf.size()));
  EXPECT_EQ(hash_str(buf), hash_bytes(buf.data(), buf.size(), 0));
  EXPECT_NE(hash_bytes(buf.data(), buf.size(), 1), hash_bytes(buf.data(), buf.size(), 2));
  // every prefix length hashes differently, including zero bytes that only change the length
  std::set<uint64_t> prefixes;
  for (size_t n = 0; n <= buf.size(); n++) prefixes.insert(hash_bytes(buf.data(), n));
  EXPECT_EQ(prefixes.size(), buf.size() + 1);
  EXPECT_NE(hash_str(std::string_view("a", 1)), hash_str(std::string_view("a\0", 2)));
  EXPECT_NE(hash_str(""), hash_str(std::string_view("\0", 1)));
  // changing any one byte (in the 8-byte words and in the tail) changes the hash
  uint64_t h = hash_str(buf);
  for (size_t i = 0; i < buf.size(); i++) {
    std::string c = buf;
    c[i] ^= 0x10;
    EXPECT_NE(hash_str(c), h) << "byte " << i;
  }
}

// ---- SHA-256: FIPS 180-2 / NIST vectors, and lengths around the padding boundaries (the expected
// digests of those were computed with Python's hashlib).

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(
      sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklm"
                 "nopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex("The quick brown fox jumps over the lazy dog"),
            "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string_view("a\0b", 3)),
            "59b271ae1bbcb1d31d41929817f4b16fb439eb4f31520b5ad1d5ce98920a7138");
}

TEST(Sha256, PaddingBoundaries) {
  struct Case {
    size_t n;
    const char* hex;
  };
  const Case cases[] = {
      {55, "e7313d333c272e639f790978283f9eb392e843d0f29b7016828bb1daa4aac70b"},
      {56, "4324d65f3c103567f5589c710bc08f8523f929a9272e3af36fc968e52abc6c27"},
      {63, "81c80242132f230c3bd41b3e63bbcff16107339549214a99614ff26664625055"},
      {64, "39e3d7b6b5d075d37d053ad89b24b41bef4f3c29760c84447cab3f3be1882241"},
      {65, "aacca6ff74fdbb296d165a45cecfa04e5127bc008770fbbdd48006f2d2fae95e"},
      {119, "9ce7368e4daf32341631b492e80359dc9f594b48453cd0dd5bf0b19279cc177e"},
      {120, "7836b787757e95e58b3ca5aec90b1b004e8deba1e50e9675af9cabf1a13a04b5"},
      {127, "a8d23e75d936f303d248888d9b165ee543f4cbafcad3c9dd2a79bd84faa11d07"},
      {128, "d2742f1f4ac6bb7ca2b239ee18402ba8b3f9f8e652d2a72973c2b9ba11c08cf6"},
      {129, "307f8fc2c1622b92762e818d39a185d4d667ad49a4b07ceae1f4afa008a93ec4"},
  };
  for (const Case& c : cases) {
    std::string s(c.n, '\0');
    for (size_t i = 0; i < c.n; i++) s[i] = static_cast<char>((i * 7 + 3) & 255);  // bytes(...)
    EXPECT_EQ(sha256_hex(s), c.hex) << "length " << c.n;
  }
}

// ---- PtrMap

TEST(PtrMap, PutFindOverwrite) {
  int a = 0, b = 0, c = 0;
  PtrMap<int> m;
  EXPECT_EQ(m.size(), 0u);
  EXPECT_EQ(m.find(&a), nullptr);
  EXPECT_FALSE(m.contains(&a));
  m.put(&a, 1);
  m.put(&b, 2);
  ASSERT_NE(m.find(&a), nullptr);
  EXPECT_EQ(*m.find(&a), 1);
  EXPECT_EQ(*m.find(&b), 2);
  EXPECT_FALSE(m.contains(&c));
  EXPECT_EQ(m.size(), 2u);
  m.put(&a, 10);  // overwrite keeps the size
  EXPECT_EQ(*m.find(&a), 10);
  EXPECT_EQ(m.size(), 2u);
  *m.find(&b) = 20;  // find gives a mutable slot
  EXPECT_EQ(*m.find(&b), 20);
  int& r = m.put(&c, 3);
  EXPECT_EQ(r, 3);
}

TEST(PtrMap, GrowsAndKeepsEveryEntry) {
  std::vector<int64_t> keys(20000);
  PtrMap<std::string> m(4);
  for (size_t i = 0; i < keys.size(); i++) m.put(&keys[i], std::to_string(i));
  EXPECT_EQ(m.size(), keys.size());
  for (size_t i = 0; i < keys.size(); i++) {
    const std::string* v = m.find(&keys[i]);
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(*v, std::to_string(i));
  }
  // addresses next to the keys were never put
  int64_t other[4];
  for (auto& o : other) EXPECT_FALSE(m.contains(&o));
}

TEST(PtrMap, MoveOnlyValues) {
  int k1 = 0, k2 = 0;
  std::vector<int> filler(100);
  PtrMap<std::unique_ptr<int>> m(1);
  m.put(&k1, std::make_unique<int>(5));
  for (int& f : filler) m.put(&f, nullptr);  // forces growth, which moves the values
  m.put(&k2, std::make_unique<int>(6));
  EXPECT_EQ(**m.find(&k1), 5);
  EXPECT_EQ(**m.find(&k2), 6);
}
