// safetensors: round trips of every dtype (raw bit patterns), empty and 0-d tensors, metadata; the
// exact bytes of a written file; every kind of corruption named with its byte offset; atomic
// saves; and agreement with Python's safetensors library both ways when it is installed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/nn/json.h"
#include "femtograd/nn/safetensors.h"

using namespace fg;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

struct DT {
  const char* st;  // safetensors name
  const char* np;  // python (TensorSpec / numpy) name
  DType dt;
};
const DT kAll[] = {
    {"BOOL", "bool", dtypes::bool_},
    {"U8", "uint8", dtypes::uint8},
    {"I8", "int8", dtypes::int8},
    {"I16", "int16", dtypes::int16},
    {"U16", "uint16", dtypes::uint16},
    {"I32", "int32", dtypes::int32},
    {"U32", "uint32", dtypes::uint32},
    {"I64", "int64", dtypes::int64},
    {"U64", "uint64", dtypes::uint64},
    {"F16", "float16", dtypes::float16},
    {"BF16", "bfloat16", dtypes::bfloat16},
    {"F32", "float32", dtypes::float32},
    {"F64", "float64", dtypes::float64},
    {"F8_E4M3", "float8_e4m3fn", dtypes::fp8e4m3},
    {"F8_E5M2", "float8_e5m2", dtypes::fp8e5m2},
};

// The deterministic content the C++ side and the python scripts both generate.
Bytes pattern(DType dt, size_t nbytes) {
  Bytes b(nbytes);
  for (size_t i = 0; i < nbytes; i++)
    b[i] = dt == dtypes::bool_ ? static_cast<unsigned char>(i % 3 == 0)
                               : static_cast<unsigned char>((i * 29 + 7) % 256);
  return b;
}
const char* kPyPattern =
    "def pattern(st, n):\n"
    "    return bytes((i % 3 == 0) if st == 'BOOL' else (i * 29 + 7) % 256 for i in range(n))\n";

Bytes raw(const Tensor& t) {
  Bytes b(static_cast<size_t>(t.numel()) * t.dtype().itemsize());
  t.copy_to_host(b.data(), b.size());
  return b;
}

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void write_file(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
Bytes le64(uint64_t n) {
  Bytes b(8);
  for (int i = 0; i < 8; i++) b[i] = static_cast<unsigned char>(n >> (8 * i));
  return b;
}
// A file from a header text (not padded) and data bytes.
Bytes make_file(const std::string& header, const Bytes& data = {}) {
  Bytes b = le64(header.size());
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

bool have_python_safetensors() {
  static int ok =
      std::system("python3 -c 'import safetensors, numpy' >/dev/null 2>&1") == 0 ? 1 : 0;
  return ok;
}

class SafeTensors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("fg_safetensors_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // Runs a python script; returns its exit status, with its output in `out`.
  int python(const std::string& script, std::string* out) {
    fs::path py = dir / "script.py", log = dir / "script.log";
    std::ofstream(py) << script;
    int rc = std::system(("python3 " + py.string() + " >" + log.string() + " 2>&1").c_str());
    std::ifstream f(log);
    *out = std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    return rc;
  }

  // Expects safe_load(file) to fail with kind, the file name, "at byte <at>" and `what`.
  void expect_corrupt(const Bytes& file, uint64_t at, const std::string& what,
                      ErrorKind kind = ErrorKind::Runtime) {
    fs::path p = dir / "bad.safetensors";
    write_file(p, file);
    try {
      safe_load(p.string());
      ADD_FAILURE() << "no error for a file that should be reported for: " << what;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_EQ(e.kind(), kind) << m;
      EXPECT_NE(m.find(p.string()), std::string::npos) << m;
      EXPECT_NE(m.find("at byte " + std::to_string(at) + ":"), std::string::npos)
          << "expected byte " << at << " in: " << m;
      EXPECT_NE(m.find(what), std::string::npos) << "expected '" << what << "' in: " << m;
    }
  }

  std::map<std::string, Tensor> every_dtype(const Shape& shape) {
    std::map<std::string, Tensor> m;
    int64_t n = prod(shape);
    for (auto& d : kAll) {
      Bytes b = pattern(d.dt, static_cast<size_t>(n) * d.dt.itemsize());
      m.emplace(std::string("t_") + d.st, Tensor::from_data(b.data(), d.dt, shape));
    }
    return m;
  }

  fs::path dir;
};

TEST_F(SafeTensors, RoundTripEveryDtypeBitExact) {
  auto ts = every_dtype({3, 5});
  // every fp8 pattern and the 16-bit float specials (inf, nan, -0, subnormals) survive untouched
  Bytes all8(256);
  for (int i = 0; i < 256; i++) all8[i] = static_cast<unsigned char>(i);
  ts["fp8_all_e4m3"] = Tensor::from_data(all8.data(), dtypes::fp8e4m3, {16, 16});
  ts["fp8_all_e5m2"] = Tensor::from_data(all8.data(), dtypes::fp8e5m2, {256});
  std::vector<uint16_t> sp = {0x7c00, 0xfc00, 0x7e01, 0x8000, 0x0001, 0x03ff, 0x7bff, 0xffff};
  ts["half_specials"] = Tensor::from_data(sp.data(), dtypes::float16, {8});
  ts["bf16_specials"] = Tensor::from_data(sp.data(), dtypes::bfloat16, {2, 4});
  std::mt19937_64 rng(7);
  std::vector<uint64_t> big(1000);
  for (auto& v : big) v = rng();
  ts["big/u64"] = Tensor::from_data(big.data(), dtypes::uint64, {10, 10, 10});

  fs::path p = dir / "all.safetensors";
  std::map<std::string, std::string> meta = {{"format", "pt"},
                                             {"quoted \"\\\n\x01", "ünï ✓ 🙂"}};
  safe_save(ts, p.string(), meta);
  auto back = safe_load(p.string());
  ASSERT_EQ(back.size(), ts.size());
  for (auto& [name, t] : ts) {
    ASSERT_TRUE(back.count(name)) << name;
    const Tensor& u = back.at(name);
    EXPECT_EQ(u.dtype(), t.dtype()) << name;
    EXPECT_EQ(u.shape(), t.shape()) << name;
    EXPECT_EQ(raw(u), raw(t)) << name;
  }
  EXPECT_EQ(safe_load_metadata(p.string()), meta);
  // the data section starts 8-aligned and each tensor is aligned to its item size
  Bytes f = read_file(p);
  uint64_t n = 0;
  std::memcpy(&n, f.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  json::Value h = json::parse(std::string_view(reinterpret_cast<char*>(f.data() + 8), n));
  for (auto& [name, v] : h.obj) {
    if (name == "__metadata__") continue;
    int64_t isz = ts.at(name).dtype().itemsize();
    EXPECT_EQ(v.find("data_offsets")->arr[0].i % isz, 0) << name;
  }
}

TEST_F(SafeTensors, EmptyAndZeroDimTensors) {
  std::map<std::string, Tensor> ts;
  float one = 1.5f;
  ts["scalar"] = Tensor::from_data(&one, dtypes::float32, {});
  int64_t big = -123456789012345;
  ts["scalar_i64"] = Tensor::from_data(&big, dtypes::int64, {});
  ts["empty"] = Tensor::from_data(nullptr, dtypes::float16, {0});
  ts["empty3"] = Tensor::from_data(nullptr, dtypes::int32, {2, 0, 3});
  fs::path p = dir / "e.safetensors";
  safe_save(ts, p.string());
  EXPECT_TRUE(safe_load_metadata(p.string()).empty());
  auto back = safe_load(p.string());
  EXPECT_EQ(back.at("scalar").shape(), Shape{});
  EXPECT_EQ(back.at("scalar").item(), 1.5);
  EXPECT_EQ(back.at("scalar_i64").to_vector<int64_t>(), std::vector<int64_t>{big});
  EXPECT_EQ(back.at("empty").shape(), Shape{0});
  EXPECT_EQ(back.at("empty").dtype(), dtypes::float16);
  EXPECT_EQ(back.at("empty3").shape(), (Shape{2, 0, 3}));
  EXPECT_EQ(back.at("empty3").numel(), 0);

  // no tensors at all: just "{}" padded
  fs::path q = dir / "none.safetensors";
  safe_save({}, q.string());
  Bytes want = make_file("{}      ");
  EXPECT_EQ(read_file(q), want);
  EXPECT_TRUE(safe_load(q.string()).empty());
}

TEST_F(SafeTensors, WrittenFileMatchesTheFormatByteForByte) {
  std::vector<float> b = {1.0f, -2.0f};
  std::vector<int8_t> a = {1, 2, -3};
  uint16_t c = 0x3c00;  // 1.0 in half
  std::map<std::string, Tensor> ts = {
      {"b", Tensor::from_vector(b, {2})},
      {"a", Tensor::from_vector(a, {3})},
      {"c", Tensor::from_data(&c, dtypes::float16, {})},
      {"z", Tensor::from_vector(std::vector<float>{}, {0, 4})},
  };
  fs::path p = dir / "x.safetensors";
  safe_save(ts, p.string(), {{"format", "pt"}});

  // larger item sizes first, then by name; __metadata__ first; spaces up to a multiple of 8
  std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"z\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[8,8]},"
      "\"c\":{\"dtype\":\"F16\",\"shape\":[],\"data_offsets\":[8,10]},"
      "\"a\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[10,13]}}";
  ASSERT_EQ(header.size(), 247u);
  header += " ";                                                 // 248 = 31 * 8
  Bytes data = {0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0,  // 1.0f, -2.0f
                0x00, 0x3c,                                      // half 1.0
                0x01, 0x02, 0xfd};                               // 1, 2, -3
  Bytes want = make_file(header, data);
  EXPECT_EQ(want[0], 248);
  Bytes got = read_file(p);
  EXPECT_EQ(std::string(got.begin(), got.end()), std::string(want.begin(), want.end()));

  // a hand-written file in another order, with no padding and escapes in a name, loads too
  std::string h2 =
      "{ \"a\\u00e9\\n\" : {\"shape\":[2], \"dtype\":\"I16\", \"data_offsets\":[4,8]},"
      "\"w\":{\"dtype\":\"U16\",\"shape\":[2],\"data_offsets\":[0,4],\"extra\":[1,{\"x\":null}]},"
      "\"__metadata__\":{\"k\":\"v\\\"\\/\"}}";
  write_file(dir / "h.safetensors", make_file(h2, {1, 0, 2, 0, 0xff, 0xff, 5, 0}));
  auto m = safe_load((dir / "h.safetensors").string());
  EXPECT_EQ(m.at("a\xc3\xa9\n").to_vector<int16_t>(), (std::vector<int16_t>{-1, 5}));
  EXPECT_EQ(m.at("w").to_vector<uint16_t>(), (std::vector<uint16_t>{1, 2}));
  EXPECT_EQ(safe_load_metadata((dir / "h.safetensors").string()).at("k"), "v\"/");
}

TEST_F(SafeTensors, CorruptFilesNameTheByte) {
  const std::string t = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
  const Bytes d8(8, 0);
  auto at = [](const std::string& h, const std::string& needle) {
    size_t i = h.find(needle);
    EXPECT_NE(i, std::string::npos) << needle;
    return 8 + i;
  };
  // sanity: the good file loads
  write_file(dir / "good.safetensors", make_file(t, d8));
  EXPECT_EQ(safe_load((dir / "good.safetensors").string()).size(), 1u);

  expect_corrupt({}, 0, "too short for the 8-byte header length");
  expect_corrupt({1, 0, 0}, 0, "too short for the 8-byte header length");
  {
    Bytes f = make_file(t, d8);
    f[0] = 0xe8, f[1] = 0x03;  // header length 1000
    expect_corrupt(f, 0, "header length 1000 runs past the end of the file (70 bytes");
  }
  {
    Bytes f = le64(~uint64_t{0});
    expect_corrupt(f, 0, "runs past the end of the file");
  }
  expect_corrupt(make_file("[1,2]", {}), 8, "does not start with '{'");
  expect_corrupt(make_file(" {}", {}), 8, "does not start with '{'");
  {
    std::string h = "{\"w\":{\"dtype\" \"F32\"}}";
    expect_corrupt(make_file(h), at(h, "\"F32"),
                   "bad JSON header: expected ':' after an object key");
  }
  {
    std::string h =
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";  // no closing
    expect_corrupt(make_file(h, d8), 8 + h.size(), "bad JSON header: unexpected end");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F\x01\"}}";
    expect_corrupt(make_file(h), at(h, "\x01"), "control character");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F\xff\"}}";
    expect_corrupt(make_file(h), at(h, "\xff"), "invalid UTF-8");
  }
  {
    std::string h = "{\"w\":1,\"w\":2}";
    expect_corrupt(make_file(h), at(h, "\"w\":2"), "duplicate key \"w\"");
  }
  {
    std::string h = "{\"w\":{\"shape\":[1.5]}}";
    expect_corrupt(make_file(h), at(h, ".5"), "expected an integer");
  }
  {
    std::string h = "{\"w\":{}} x";
    expect_corrupt(make_file(h), at(h, "x"), "after the JSON value");
  }
  {
    std::string h = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
    expect_corrupt(make_file(h), 8 + 5 + 64, "nested deeper than 64");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,9]}}";
    expect_corrupt(make_file(h, d8), at(h, "[0,9]"),
                   "data_offsets [0, 9] run past the end of the data section (8 bytes");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,4]}}";
    expect_corrupt(make_file(h, d8), at(h, "[8,4]"), "end before they begin");
  }
  {
    std::string h =
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
        "\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}";
    expect_corrupt(make_file(h, Bytes(12)), at(h, "[4,12]"),
                   "tensor \"v\" data_offsets [4, 12] overlap those of tensor \"w\" [0, 8]");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "[0,8]"),
                   "tensor \"w\" of shape (3,) and dtype F32 needs 12 bytes, but its data_offsets "
                   "[0, 8] hold 8");
  }
  {
    std::string h =
        "{\"w\":{\"dtype\":\"F32\",\"shape\":[1099511627776,1099511627776],"
        "\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "[0,8]"), "needs more than 2^62 bytes");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "\"F33"), "unknown dtype \"F33\"");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "\"C64"), "dtype C64, which femtograd does not support",
                   ErrorKind::NotImplemented);
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "-2"), "shape entry is negative (-2)");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}";
    expect_corrupt(make_file(h, d8), at(h, "{\"dtype"), "tensor \"w\" has no \"data_offsets\"");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}";
    expect_corrupt(make_file(h, d8), at(h, "[0]"), "data_offsets must hold 2 integers, not 1");
  }
  {
    std::string h = "{\"w\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}";
    expect_corrupt(make_file(h, d8), at(h, "\"2\""), "shape must be an array, not a string");
  }
  {
    std::string h = "{\"__metadata__\":{\"k\":1}}";
    expect_corrupt(make_file(h), at(h, "1}"), "__metadata__ value \"k\" must be a string");
  }
  {
    // a good file cut short: the last tensor's bytes are missing
    std::map<std::string, Tensor> ts = {
        {"x", Tensor::from_vector(std::vector<int32_t>{1, 2, 3}, {3})}};
    safe_save(ts, (dir / "ok.safetensors").string());
    Bytes f = read_file(dir / "ok.safetensors");
    f.resize(f.size() - 1);
    std::string h(f.begin() + 8, f.end() - 11);
    expect_corrupt(f, at(h, "[0,12]"), "run past the end of the data section (11 bytes");
  }
  // not a file at all
  EXPECT_THROW(safe_load((dir / "missing.safetensors").string()), Error);
  try {
    safe_load(dir.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a regular file"), std::string::npos) << e.what();
  }
}

TEST_F(SafeTensors, SaveIsAtomicAndChecksItsInput) {
  fs::path p = dir / "m.safetensors";
  std::map<std::string, Tensor> one = {{"x", Tensor::from_vector(std::vector<float>{1, 2}, {2})}};
  safe_save(one, p.string());
  Bytes before = read_file(p);
  auto leftovers = [&] {
    int n = 0;
    for (auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find(".tmp") != std::string::npos) n++;
    return n;
  };
  // bad input fails before anything is written: the old file stays as it was
  EXPECT_THROW(safe_save({{"__metadata__", one.at("x")}}, p.string()), Error);
  EXPECT_THROW(safe_save({{"bad\xff", one.at("x")}}, p.string()), Error);
  EXPECT_THROW(safe_save(one, p.string(), {{"k", "\xc0\x80"}}), Error);
  EXPECT_THROW(safe_save({{"e", Tensor()}}, p.string()), Error);
  EXPECT_EQ(read_file(p), before);
  // a failing rename (the target is a folder that is not empty) leaves no temporary behind
  fs::create_directories(dir / "sub" / "inner");
  try {
    safe_save(one, (dir / "sub").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(std::string(e.what()).find("cannot rename"), std::string::npos) << e.what();
  }
  EXPECT_EQ(leftovers(), 0);
  // a folder that does not exist
  EXPECT_THROW(safe_save(one, (dir / "nope" / "a.safetensors").string()), Error);
  // overwriting replaces the whole file
  std::map<std::string, Tensor> two = {{"y", Tensor::from_vector(std::vector<int8_t>{7}, {1})}};
  safe_save(two, p.string());
  auto back = safe_load(p.string());
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back.at("y").to_vector<int8_t>(), std::vector<int8_t>{7});
  EXPECT_EQ(leftovers(), 0);
}

// Files written by Python's safetensors (through its raw-bytes API, so every dtype works
// without torch) load here, and match what we write byte for byte.
TEST_F(SafeTensors, LoadsFilesWrittenByPythonSafetensors) {
  if (!have_python_safetensors())
    GTEST_SKIP() << "python3 with safetensors and numpy not installed";
  fs::path p = dir / "py.safetensors";
  std::string script =
      std::string("import numpy as np, safetensors\n") + kPyPattern + "dts = [" +
      [] {
        std::string s;
        for (auto& d : kAll)
          s += std::string("('") + d.st + "','" + d.np + "'," + std::to_string(d.dt.itemsize()) +
               "),";
        return s;
      }() +
      "]\n" +
      "keep = []\n"
      "def spec(st, np_name, shape, data):\n"
      "    try:\n"
      "        from safetensors import TensorSpec\n"
      "    except ImportError:\n"
      "        return {'dtype': st, 'shape': shape, 'data': data}\n"
      "    a = np.frombuffer(data, np.uint8).copy(); keep.append(a)\n"
      "    return TensorSpec(dtype=np_name, shape=shape, data_ptr=a.ctypes.data, "
      "data_len=len(data))\n"
      "d = {}\n"
      "for st, nm, isz in dts:\n"
      "    d['t_' + st] = spec(st, nm, [3, 5], pattern(st, 15 * isz))\n"
      "d['empty'] = spec('F32', 'float32', [0, 2], b'')\n"
      "d['scalar'] = spec('F64', 'float64', [], pattern('F64', 8))\n"
      "b = safetensors.serialize(d, {'format': 'np'})\n"
      "open('" +
      p.string() +
      "', 'wb').write(bytes(b))\n"
      // the numpy front end too, for the dtypes numpy has
      "from safetensors.numpy import save_file\n"
      "save_file({'a': np.arange(6, dtype=np.float32).reshape(2, 3), 'b': np.array([True, False])},"
      " '" +
      (dir / "np.safetensors").string() + "', metadata={'m': 'x'})\n";
  std::string out;
  ASSERT_EQ(python(script, &out), 0) << out;

  auto m = safe_load(p.string());
  ASSERT_EQ(m.size(), std::size(kAll) + 2);
  for (auto& d : kAll) {
    const Tensor& t = m.at(std::string("t_") + d.st);
    EXPECT_EQ(t.dtype(), d.dt) << d.st;
    EXPECT_EQ(t.shape(), (Shape{3, 5})) << d.st;
    EXPECT_EQ(raw(t), pattern(d.dt, 15 * d.dt.itemsize())) << d.st;
  }
  EXPECT_EQ(m.at("empty").shape(), (Shape{0, 2}));
  EXPECT_EQ(m.at("scalar").shape(), Shape{});
  EXPECT_EQ(raw(m.at("scalar")), pattern(dtypes::float64, 8));
  EXPECT_EQ(safe_load_metadata(p.string()), (std::map<std::string, std::string>{{"format", "np"}}));

  // our writer produces the very same bytes from the same tensors
  std::map<std::string, Tensor> ours = every_dtype({3, 5});
  ours["empty"] = Tensor::from_data(nullptr, dtypes::float32, {0, 2});
  Bytes s = pattern(dtypes::float64, 8);
  ours["scalar"] = Tensor::from_data(s.data(), dtypes::float64, {});
  safe_save(ours, (dir / "ours.safetensors").string(), {{"format", "np"}});
  EXPECT_EQ(read_file(dir / "ours.safetensors"), read_file(p));

  auto np = safe_load((dir / "np.safetensors").string());
  EXPECT_EQ(np.at("a").to_vector<float>(), (std::vector<float>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(np.at("a").shape(), (Shape{2, 3}));
  EXPECT_EQ(np.at("b").to_vector<bool>(), (std::vector<bool>{true, false}));
  EXPECT_EQ(safe_load_metadata((dir / "np.safetensors").string()).at("m"), "x");
}

TEST_F(SafeTensors, PythonSafetensorsReadsOurFiles) {
  if (!have_python_safetensors())
    GTEST_SKIP() << "python3 with safetensors and numpy not installed";
  auto ts = every_dtype({3, 5});
  ts["empty"] = Tensor::from_data(nullptr, dtypes::int16, {4, 0});
  float f = -0.25f;
  ts["scalar"] = Tensor::from_data(&f, dtypes::float32, {});
  fs::path p = dir / "ours.safetensors";
  safe_save(ts, p.string(), {{"format", "pt"}, {"note", "h\u00e9 \"q\""}});

  std::string want;
  for (auto& d : kAll)
    want += std::string("('t_") + d.st + "','" + d.st + "',[3,5]," +
            std::to_string(d.dt.itemsize()) + "),";
  std::string script =
      std::string("import numpy as np, safetensors, sys\n") + kPyPattern + "path = '" + p.string() +
      "'\n"
      "got = dict(safetensors.deserialize(open(path, 'rb').read()))\n"
      "want = [" +
      want +
      "]\n"
      "assert len(got) == len(want) + 2, sorted(got)\n"
      "for name, st, shape, isz in want:\n"
      "    g = got[name]\n"
      "    assert g['dtype'] == st and list(g['shape']) == shape, (name, g['dtype'], g['shape'])\n"
      "    assert bytes(g['data']) == pattern(st, 15 * isz), name\n"
      "assert got['empty']['dtype'] == 'I16' and list(got['empty']['shape']) == [4, 0]\n"
      "assert list(got['scalar']['shape']) == [] and bytes(got['scalar']['data']) == "
      "np.float32(-0.25).tobytes()\n"
      "with safetensors.safe_open(path, framework='np') as f:\n"
      "    assert f.metadata() == {'format': 'pt', 'note': 'h\\u00e9 \"q\"'}, f.metadata()\n"
      "    a = f.get_tensor('t_I32')\n"
      "    assert a.dtype == np.int32 and a.shape == (3, 5)\n"
      "    assert a.tobytes() == pattern('I32', 60)\n"
      "    s = f.get_tensor('scalar')\n"
      "    assert s.shape == () and s == np.float32(-0.25)\n"
      "print('ok')\n";
  std::string out;
  EXPECT_EQ(python(script, &out), 0) << out;
}

}  // namespace
