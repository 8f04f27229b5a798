// IDX reading through zlib's gz* interface, which reads gzip and plain files alike; the header is
// checked against the bytes actually present before the data is swapped to host order.
#include "femtograd/nn/datasets.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "femtograd/base/error.h"

namespace fg {

namespace {

constexpr const char* kOp = "load_idx";

// The whole (uncompressed) content of a plain or gzip file.
std::vector<unsigned char> read_maybe_gzip(const std::string& path, bool* gzipped) {
  errno = 0;
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) {
    fail(ErrorKind::Runtime, kOp, "cannot open ", path, ": ",
         errno ? std::strerror(errno) : "out of memory");
  }
  gzbuffer(f, 1 << 17);
  std::vector<unsigned char> out;
  size_t n = 0;
  for (;;) {
    if (out.size() - n < (1u << 20)) out.resize(std::max<size_t>(out.size() * 2, n + (1u << 20)));
    int got = gzread(f, out.data() + n,
                     static_cast<unsigned>(std::min<size_t>(out.size() - n, 1u << 30)));
    if (got < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      if (code == Z_ERRNO) msg = std::strerror(errno);
      gzclose(f);
      fail(ErrorKind::Runtime, kOp, path, ": at byte ", n,
           " of the uncompressed data: the gzip stream is corrupt or truncated (", msg, ")");
    }
    if (got == 0) break;
    n += static_cast<size_t>(got);
  }
  // gzread reports a stream that ends early as a plain end of file; gzerror tells them apart
  int code = Z_OK;
  const char* msg = gzerror(f, &code);
  if (code != Z_OK) {
    std::string m = msg ? msg : "unknown error";
    gzclose(f);
    fail(ErrorKind::Runtime, kOp, path, ": at byte ", n,
         " of the uncompressed data: the gzip stream is corrupt or truncated (", m, ")");
  }
  *gzipped = gzdirect(f) == 0;
  gzclose(f);
  out.resize(n);
  return out;
}

uint32_t be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Tensor load_idx(const std::string& path, const std::string& device) {
  bool gz = false;
  std::vector<unsigned char> b = read_maybe_gzip(path, &gz);
  const char* where = gz ? " of the uncompressed data: " : ": ";
  auto bad = [&](uint64_t at, const auto&... what) {
    fail(ErrorKind::Runtime, kOp, path, ": at byte ", at, where, what...);
  };
  const uint64_t size = b.size();
  if (size < 4) bad(0, "the file is ", size, " bytes, too short for the 4-byte IDX magic number");
  if (b[0] != 0 || b[1] != 0)
    bad(0, "not an IDX file: the magic number must start with two zero bytes, it starts with ",
        int(b[0]), ", ", int(b[1]));
  DType dt = dtypes::void_;
  switch (b[2]) {
    case 0x08: dt = dtypes::uint8; break;
    case 0x09: dt = dtypes::int8; break;
    case 0x0B: dt = dtypes::int16; break;
    case 0x0C: dt = dtypes::int32; break;
    case 0x0D: dt = dtypes::float32; break;
    case 0x0E: dt = dtypes::float64; break;
    default:
      bad(2, "unknown IDX type code 0x", "0123456789abcdef"[b[2] >> 4],
          "0123456789abcdef"[b[2] & 15], " (known: 0x08 0x09 0x0b 0x0c 0x0d 0x0e)");
  }
  const uint64_t ndims = b[3];
  const uint64_t data_start = 4 + 4 * ndims;
  if (size < data_start)
    bad(size, "the header declares ", ndims, " dimensions, which need ", data_start,
        " bytes of header, but the file has only ", size);
  Shape shape;
  uint64_t numel = 1;
  bool huge = false;
  for (uint64_t d = 0; d < ndims; d++) {
    uint64_t x = be32(&b[4 + 4 * d]);
    shape.push_back(static_cast<int64_t>(x));
    if (x != 0 && numel > (uint64_t{1} << 56) / x) huge = true;
    numel *= x;
  }
  const uint64_t isz = static_cast<uint64_t>(dt.itemsize());
  const uint64_t avail = size - data_start;
  if (huge || numel * isz > avail)
    bad(size, "truncated: shape ", shape_str(shape), " of ", dt.name(), " needs ",
        huge ? std::string("more than 2^56") : std::to_string(numel * isz),
        " bytes of data from byte ", data_start, ", but only ", avail, " follow the header");
  if (numel * isz < avail)
    bad(data_start + numel * isz, "the data of shape ", shape_str(shape), " of ", dt.name(),
        " ends here, but ", avail - numel * isz, " more bytes follow");
  unsigned char* p = b.data() + data_start;
  if (isz > 1)  // big-endian to host (little-endian) order, in place
    for (uint64_t i = 0; i < numel; i++) std::reverse(p + i * isz, p + (i + 1) * isz);
  return Tensor::from_data(p, dt, shape, device);
}

Dataset fashion_mnist(const std::string& dir, const std::string& device) {
  const char* names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
  std::string paths[4], missing;
  for (int i = 0; i < 4; i++) {
    for (const char* ext : {"", ".gz"}) {
      std::string p = dir + "/" + names[i] + ext;
      struct stat st {};
      if (::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
        paths[i] = p;
        break;
      }
    }
    if (paths[i].empty()) missing += std::string(missing.empty() ? "" : ", ") + names[i] + "[.gz]";
  }
  FG_CHECK(missing.empty(), ErrorKind::Runtime, "fashion_mnist",
           "Fashion-MNIST files not found in ", dir, " (missing ", missing,
           "). Install the Debian package dataset-fashion-mnist (apt-get install "
           "dataset-fashion-mnist), which puts them in ",
           kFashionMnistDir, ", or pass the folder that holds them");
  Tensor t[4];
  for (int i = 0; i < 4; i++) t[i] = load_idx(paths[i], device);
  for (int i = 0; i < 4; i += 2) {
    const Shape &xs = t[i].shape(), &ys = t[i + 1].shape();
    FG_CHECK(t[i].dtype() == dtypes::uint8 && xs.size() == 3 && xs[1] == 28 && xs[2] == 28,
             ErrorKind::Runtime, "fashion_mnist", paths[i], " holds ", t[i].dtype().name(), " ",
             shape_str(xs), ", expected uint8 images (N, 28, 28)");
    FG_CHECK(t[i + 1].dtype() == dtypes::uint8 && ys.size() == 1 && ys[0] == xs[0],
             ErrorKind::Runtime, "fashion_mnist", paths[i + 1], " holds ", t[i + 1].dtype().name(),
             " ", shape_str(ys), ", expected ", xs[0], " uint8 labels to match ", paths[i]);
    t[i] = t[i].reshape({xs[0], 1, 28, 28});
  }
  return Dataset{t[0], t[1], t[2], t[3]};
}

}  // namespace fg
