// IDX files written here (plain and gzip, every IDX dtype), their corruptions named with offsets,
// and Fashion-MNIST from Debian's dataset-fashion-mnist package when it is installed.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/nn/datasets.h"

using namespace fg;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<unsigned char>;

// An IDX file: magic, dims and the elements, all big-endian.
template <class T>
Bytes idx(uint8_t code, const std::vector<uint32_t>& dims, const std::vector<T>& v) {
  Bytes b = {0, 0, code, static_cast<unsigned char>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<unsigned char>(d >> s));
  for (const T& x : v) {
    unsigned char le[sizeof(T)];
    std::memcpy(le, &x, sizeof(T));
    for (size_t k = sizeof(T); k-- > 0;) b.push_back(le[k]);
  }
  return b;
}

void write_plain(const fs::path& p, const Bytes& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
void write_gz(const fs::path& p, const Bytes& b) {
  gzFile f = gzopen(p.c_str(), "wb");
  ASSERT_TRUE(f);
  if (!b.empty())
    ASSERT_EQ(gzwrite(f, b.data(), static_cast<unsigned>(b.size())), static_cast<int>(b.size()));
  gzclose(f);
}
Bytes read_plain(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
// The uncompressed bytes of a gzip file, read with zlib directly (independent of load_idx).
Bytes gunzip(const fs::path& p) {
  Bytes out;
  gzFile f = gzopen(p.c_str(), "rb");
  if (!f) return out;
  unsigned char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.insert(out.end(), buf, buf + n);
  gzclose(f);
  return out;
}

class Datasets : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("fg_datasets_" + std::to_string(::getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }

  // Both a plain and a gzip copy of the file; calls check(tensor) on each.
  template <class F>
  void both(const Bytes& b, F check) {
    write_plain(dir / "a.idx", b);
    write_gz(dir / "a.idx.gz", b);
    for (const char* name : {"a.idx", "a.idx.gz"}) {
      SCOPED_TRACE(name);
      check(load_idx((dir / name).string()));
    }
  }

  void expect_error(const fs::path& p, uint64_t at, const std::string& what) {
    try {
      load_idx(p.string());
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_EQ(e.kind(), ErrorKind::Runtime) << m;
      EXPECT_NE(m.find(p.string()), std::string::npos) << m;
      EXPECT_NE(m.find("at byte " + std::to_string(at)), std::string::npos)
          << "expected byte " << at << ": " << m;
      EXPECT_NE(m.find(what), std::string::npos) << "expected '" << what << "' in: " << m;
    }
  }
  // The same corruption in a plain file and in a gzip file.
  void expect_error_both(const Bytes& b, uint64_t at, const std::string& what) {
    write_plain(dir / "bad.idx", b);
    write_gz(dir / "bad.idx.gz", b);
    expect_error(dir / "bad.idx", at, what);
    expect_error(dir / "bad.idx.gz", at, what);
  }

  fs::path dir;
};

TEST_F(Datasets, IdxEveryDtypePlainAndGzip) {
  std::vector<uint8_t> u8 = {0, 1, 127, 128, 255, 42};
  both(idx<uint8_t>(0x08, {2, 3}, u8), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::uint8);
    EXPECT_EQ(t.shape(), (Shape{2, 3}));
    EXPECT_EQ(t.to_vector<uint8_t>(), u8);
  });
  std::vector<int8_t> i8 = {-128, -1, 0, 1, 127};
  both(idx<int8_t>(0x09, {5}, i8), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::int8);
    EXPECT_EQ(t.to_vector<int8_t>(), i8);
  });
  std::vector<int16_t> i16 = {-32768, -2, 258, 32767};
  both(idx<int16_t>(0x0B, {2, 1, 2}, i16), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::int16);
    EXPECT_EQ(t.shape(), (Shape{2, 1, 2}));
    EXPECT_EQ(t.to_vector<int16_t>(), i16);
  });
  std::vector<int32_t> i32 = {INT32_MIN, -70000, 0x01020304, INT32_MAX};
  both(idx<int32_t>(0x0C, {4}, i32), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::int32);
    EXPECT_EQ(t.to_vector<int32_t>(), i32);
  });
  std::vector<float> f32 = {1.5f, -0.1f, 3.4e38f, 1e-45f};
  both(idx<float>(0x0D, {2, 2}, f32), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::float32);
    EXPECT_EQ(t.to_vector<float>(), f32);
  });
  std::vector<double> f64 = {3.141592653589793, -1e300, 5e-324};
  both(idx<double>(0x0E, {3, 1}, f64), [&](const Tensor& t) {
    EXPECT_EQ(t.dtype(), dtypes::float64);
    EXPECT_EQ(t.shape(), (Shape{3, 1}));
    EXPECT_EQ(t.to_vector<double>(), f64);
  });
  // no dimensions: one element; a zero dimension: no elements
  both(idx<int32_t>(0x0C, {}, {-5}), [&](const Tensor& t) {
    EXPECT_EQ(t.shape(), Shape{});
    EXPECT_EQ(t.to_vector<int32_t>(), std::vector<int32_t>{-5});
  });
  both(idx<float>(0x0D, {4, 0}, {}), [&](const Tensor& t) {
    EXPECT_EQ(t.shape(), (Shape{4, 0}));
    EXPECT_EQ(t.numel(), 0);
  });
  // a gzip file is recognised by content, not name; a large one round-trips too
  std::vector<uint8_t> big(3 * 1000 * 777);
  for (size_t i = 0; i < big.size(); i++) big[i] = static_cast<uint8_t>(i * 7 + i / 1000);
  write_gz(dir / "big.idx", idx<uint8_t>(0x08, {3, 1000, 777}, big));
  Tensor t = load_idx((dir / "big.idx").string());
  EXPECT_EQ(t.shape(), (Shape{3, 1000, 777}));
  EXPECT_EQ(t.to_vector<uint8_t>(), big);
}

TEST_F(Datasets, IdxCorruptionsNameTheByte) {
  Bytes good = idx<int16_t>(0x0B, {2, 3}, {1, 2, 3, 4, 5, 6});  // 4 + 8 header bytes, 12 data bytes
  expect_error_both({}, 0, "the file is 0 bytes, too short for the 4-byte IDX magic");
  expect_error_both({0, 0, 8}, 0, "too short for the 4-byte IDX magic");
  {
    Bytes b = good;
    b[1] = 8;
    expect_error_both(b, 0, "not an IDX file");
  }
  {
    Bytes b = good;
    b[2] = 0x0A;
    expect_error_both(b, 2, "unknown IDX type code 0x0a");
  }
  {
    Bytes b(good.begin(), good.begin() + 10);  // 2 dims need 12 header bytes
    expect_error_both(b, 10, "the header declares 2 dimensions, which need 12 bytes of header");
  }
  {
    Bytes b(good.begin(), good.end() - 3);
    expect_error_both(b, 21,
                      "truncated: shape (2, 3) of int16 needs 12 bytes of data from byte 12, "
                      "but only 9 follow the header");
  }
  {
    Bytes b = good;
    b[4] = 0xff;  // the first dim is now about 4e9
    expect_error_both(b, 24, "truncated: shape (4278190082, 3) of int16 needs 25669140492 bytes");
  }
  {
    Bytes b = good;
    b.push_back(0);
    b.push_back(0);
    expect_error_both(b, 24, "ends here, but 2 more bytes follow");
  }
  // a gzip stream cut short
  {
    std::vector<uint8_t> v(50000);
    for (size_t i = 0; i < v.size(); i++) v[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
    write_gz(dir / "cut.idx.gz", idx<uint8_t>(0x08, {50000}, v));
    Bytes z = read_plain(dir / "cut.idx.gz");
    z.resize(z.size() / 2);
    write_plain(dir / "cut.idx.gz", z);
    try {
      load_idx((dir / "cut.idx.gz").string());
      ADD_FAILURE();
    } catch (const Error& e) {
      std::string m = e.what();
      EXPECT_NE(m.find("cut.idx.gz: at byte "), std::string::npos) << m;
      EXPECT_NE(m.find("the gzip stream is corrupt or truncated"), std::string::npos) << m;
    }
  }
  try {
    load_idx((dir / "none.idx").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("none.idx"), std::string::npos) << e.what();
  }
}

TEST_F(Datasets, FashionMnistFromAFolder) {
  // a tiny stand-in with the real file names: plain and gzip files mixed
  std::vector<uint8_t> img(3 * 28 * 28), lab = {9, 0, 3};
  for (size_t i = 0; i < img.size(); i++) img[i] = static_cast<uint8_t>(i);
  write_plain(dir / "train-images-idx3-ubyte", idx<uint8_t>(0x08, {3, 28, 28}, img));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx<uint8_t>(0x08, {3}, lab));
  write_gz(dir / "t10k-images-idx3-ubyte.gz",
           idx<uint8_t>(0x08, {1, 28, 28}, std::vector<uint8_t>(784, 7)));
  // missing files: the error names the folder, the files and the Debian package
  try {
    fashion_mnist(dir.string());
    ADD_FAILURE();
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_EQ(e.kind(), ErrorKind::Runtime);
    EXPECT_NE(m.find(dir.string()), std::string::npos) << m;
    EXPECT_NE(m.find("t10k-labels-idx1-ubyte[.gz]"), std::string::npos) << m;
    EXPECT_EQ(m.find("train-images"), std::string::npos) << m;
    EXPECT_NE(m.find("dataset-fashion-mnist"), std::string::npos) << m;
  }
  write_plain(dir / "t10k-labels-idx1-ubyte", idx<uint8_t>(0x08, {1}, {5}));
  Dataset d = fashion_mnist(dir.string());
  EXPECT_EQ(d.X_train.shape(), (Shape{3, 1, 28, 28}));
  EXPECT_EQ(d.X_train.dtype(), dtypes::uint8);
  EXPECT_EQ(d.X_train.to_vector<uint8_t>(), img);
  EXPECT_EQ(d.Y_train.to_vector<uint8_t>(), lab);
  EXPECT_EQ(d.X_test.shape(), (Shape{1, 1, 28, 28}));
  EXPECT_EQ(d.Y_test.to_vector<uint8_t>(), std::vector<uint8_t>{5});
  // labels that do not match the images
  write_plain(dir / "t10k-labels-idx1-ubyte", idx<uint8_t>(0x08, {2}, {5, 6}));
  EXPECT_THROW(fashion_mnist(dir.string()), Error);

  try {
    fashion_mnist((dir / "nowhere").string());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("apt-get install dataset-fashion-mnist"),
              std::string::npos);
  }
}

TEST(FashionMnist, LoadsFromTheDebianPackage) {
  fs::path d = kFashionMnistDir;
  if (!fs::exists(d / "train-images-idx3-ubyte.gz") && !fs::exists(d / "train-images-idx3-ubyte"))
    GTEST_SKIP() << "Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)";
  Dataset ds = fashion_mnist();
  EXPECT_EQ(ds.X_train.shape(), (Shape{60000, 1, 28, 28}));
  EXPECT_EQ(ds.X_test.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(ds.Y_train.shape(), Shape{60000});
  EXPECT_EQ(ds.Y_test.shape(), Shape{10000});
  EXPECT_EQ(ds.X_train.dtype(), dtypes::uint8);
  EXPECT_EQ(ds.Y_train.dtype(), dtypes::uint8);

  // every class 0-9, each 6000 times in train and 1000 times in test
  for (auto [y, per] : {std::pair{&ds.Y_train, 6000}, {&ds.Y_test, 1000}}) {
    std::array<int, 256> count{};
    for (uint8_t v : y->to_vector<uint8_t>()) count[v]++;
    for (int c = 0; c < 10; c++) EXPECT_EQ(count[c], per) << "class " << c;
  }
  EXPECT_EQ(ds.Y_train.to_vector<uint8_t>()[0], 9);  // the first image is an ankle boot

  // the first image against the raw file bytes (after the 16-byte header) and a known checksum
  for (auto [X, name, sum, weighted] :
       {std::tuple{&ds.X_train, "train-images-idx3-ubyte", 76247ull, 35954273ull},
        {&ds.X_test, "t10k-images-idx3-ubyte", 33456ull, 16008570ull}}) {
    SCOPED_TRACE(name);
    Bytes file = fs::exists(d / (std::string(name) + ".gz"))
                     ? gunzip(d / (std::string(name) + ".gz"))
                     : read_plain(d / name);
    ASSERT_GE(file.size(), 16u + 784u);
    Bytes first_raw(file.begin() + 16, file.begin() + 16 + 784);
    std::vector<uint8_t> all = X->to_vector<uint8_t>();
    std::vector<uint8_t> first(all.begin(), all.begin() + 784);
    EXPECT_EQ(Bytes(first.begin(), first.end()), first_raw);
    uint64_t s = 0, w = 0;
    for (size_t i = 0; i < 784; i++) s += first_raw[i], w += (i + 1) * first_raw[i];
    EXPECT_EQ(s, sum);
    EXPECT_EQ(w, weighted);
    EXPECT_TRUE(std::equal(all.end() - 784, all.end(), file.end() - 784));  // the last one too
  }
}

}  // namespace
