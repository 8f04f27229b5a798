// safetensors: the header is parsed and every fact checked (offsets in range, no overlaps, sizes
// matching dtype and shape) before any tensor is made from the mapped bytes; the writer orders
// tensors as the reference Rust writer does (by dtype rank descending, then name) so that its
// output is the same bytes and every tensor is aligned to its item size.
#include "femtograd/nn/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <vector>

#include "femtograd/base/error.h"
#include "femtograd/nn/json.h"

namespace fg {

static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");

namespace {

struct DTypeInfo {
  const char* name;
  DType dt;
  int rank;  // position in the Rust crate's Dtype enum: the writer orders tensors by it
};
constexpr DTypeInfo kDTypes[] = {
    {"BOOL", dtypes::bool_, 0},      {"U8", dtypes::uint8, 4},
    {"I8", dtypes::int8, 5},         {"F8_E5M2", dtypes::fp8e5m2, 6},
    {"F8_E4M3", dtypes::fp8e4m3, 7}, {"I16", dtypes::int16, 9},
    {"U16", dtypes::uint16, 10},     {"F16", dtypes::float16, 11},
    {"BF16", dtypes::bfloat16, 12},  {"I32", dtypes::int32, 13},
    {"U32", dtypes::uint32, 14},     {"F32", dtypes::float32, 15},
    {"F64", dtypes::float64, 17},    {"I64", dtypes::int64, 18},
    {"U64", dtypes::uint64, 19},
};
// dtypes of the format that femtograd has no type for
constexpr const char* kUnsupported[] = {"F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"};

const DTypeInfo* info_of(DType dt) {
  for (auto& d : kDTypes)
    if (d.dt == dt) return &d;
  return nullptr;
}

// A read-only private mapping of a whole file, unmapped on scope exit.
struct MappedFile {
  const unsigned char* data = nullptr;
  size_t size = 0;
  MappedFile(const std::string& path, const char* op) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail(ErrorKind::Runtime, op, "cannot open ", path, ": ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      fail(ErrorKind::Runtime, op, "cannot stat ", path, ": ", std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      fail(ErrorKind::Runtime, op, path, " is not a regular file",
           S_ISDIR(st.st_mode) ? " (it is a folder)" : "");
    }
    size = static_cast<size_t>(st.st_size);
    if (size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        int e = errno;
        ::close(fd);
        fail(ErrorKind::Runtime, op, "cannot map ", path, ": ", std::strerror(e));
      }
      data = static_cast<const unsigned char*>(p);
      ::madvise(p, size, MADV_SEQUENTIAL);
    }
    ::close(fd);  // the mapping keeps the file alive
  }
  ~MappedFile() {
    if (data) ::munmap(const_cast<unsigned char*>(data), size);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
};

struct Entry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;  // relative to the start of the data section
  size_t pos = 0;               // file offset of the entry's data_offsets, for errors
};

struct Header {
  std::vector<Entry> tensors;  // in header order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // file offset of the data section
};

template <class... A>
[[noreturn]] void corrupt(const char* op, const std::string& path, uint64_t at, const A&... what) {
  fail(ErrorKind::Runtime, op, path, ": at byte ", at, ": ", what...);
}

Header parse_header(const char* op, const std::string& path, const unsigned char* p, size_t size) {
  if (size < 8)
    corrupt(op, path, 0, "the file is ", size, " bytes, too short for the 8-byte header length");
  uint64_t n = 0;
  std::memcpy(&n, p, 8);
  if (n > size - 8)
    corrupt(op, path, 0, "header length ", n, " runs past the end of the file (", size,
            " bytes, so at most ", size - 8, " bytes of header)");
  if (n == 0 || p[8] != '{') corrupt(op, path, 8, "the JSON header does not start with '{'");
  Header h;
  h.data_start = 8 + n;
  const uint64_t data_size = size - h.data_start;
  json::Value root;
  try {
    root = json::parse(std::string_view(reinterpret_cast<const char*>(p + 8), n));
  } catch (const json::ParseError& e) {
    corrupt(op, path, 8 + e.pos, "bad JSON header: ", e.what());
  }
  auto where = [](const json::Value& v) { return 8 + v.pos; };
  auto expect_kind = [&](const json::Value& v, json::Value::Kind k, const std::string& what) {
    if (v.kind != k)
      corrupt(op, path, where(v), what, " must be ", json::Value::kind_name(k), ", not ",
              json::Value::kind_name(v.kind));
  };
  auto nonneg = [&](const json::Value& v, const std::string& what) -> uint64_t {
    expect_kind(v, json::Value::Kind::Int, what);
    if (v.i < 0) corrupt(op, path, where(v), what, " is negative (", v.i, ")");
    return static_cast<uint64_t>(v.i);
  };
  expect_kind(root, json::Value::Kind::Object, "the header");

  for (auto& [name, v] : root.obj) {
    if (name == "__metadata__") {
      expect_kind(v, json::Value::Kind::Object, "__metadata__");
      for (auto& [k, s] : v.obj) {
        expect_kind(s, json::Value::Kind::String, "__metadata__ value " + json::quote(k));
        h.metadata[k] = s.s;
      }
      continue;
    }
    std::string tn = "tensor " + json::quote(name);
    expect_kind(v, json::Value::Kind::Object, tn);
    const json::Value* dt = v.find("dtype");
    const json::Value* shape = v.find("shape");
    const json::Value* offs = v.find("data_offsets");
    for (auto [field, fv] : {std::pair{"dtype", dt}, {"shape", shape}, {"data_offsets", offs}})
      if (!fv) corrupt(op, path, where(v), tn, " has no \"", field, "\"");
    expect_kind(*dt, json::Value::Kind::String, tn + " dtype");
    Entry e;
    e.name = name;
    const DTypeInfo* info = nullptr;
    for (auto& d : kDTypes)
      if (dt->s == d.name) info = &d;
    if (!info) {
      for (const char* u : kUnsupported)
        if (dt->s == u)
          fail(ErrorKind::NotImplemented, op, path, ": at byte ", where(*dt), ": ", tn,
               " has dtype ", u, ", which femtograd does not support");
      corrupt(op, path, where(*dt), tn, " has unknown dtype ", json::quote(dt->s));
    }
    e.dtype = info->dt;
    expect_kind(*shape, json::Value::Kind::Array, tn + " shape");
    uint64_t numel = 1;
    bool overflow = false;
    for (auto& d : shape->arr) {
      uint64_t x = nonneg(d, tn + " shape entry");
      e.shape.push_back(static_cast<int64_t>(x));
      if (x != 0 && numel > (uint64_t{1} << 62) / x) overflow = true;
      numel *= x;
    }
    expect_kind(*offs, json::Value::Kind::Array, tn + " data_offsets");
    if (offs->arr.size() != 2)
      corrupt(op, path, where(*offs), tn, " data_offsets must hold 2 integers, not ",
              offs->arr.size());
    e.begin = nonneg(offs->arr[0], tn + " data_offsets[0]");
    e.end = nonneg(offs->arr[1], tn + " data_offsets[1]");
    e.pos = where(*offs);
    if (e.begin > e.end)
      corrupt(op, path, e.pos, tn, " data_offsets [", e.begin, ", ", e.end,
              "] end before they begin");
    if (e.end > data_size)
      corrupt(op, path, e.pos, tn, " data_offsets [", e.begin, ", ", e.end,
              "] run past the end of the data section (", data_size, " bytes from byte ",
              h.data_start, ")");
    uint64_t isz = static_cast<uint64_t>(e.dtype.itemsize());
    if (overflow || numel * isz != e.end - e.begin)
      corrupt(op, path, e.pos, tn, " of shape ", shape_str(e.shape), " and dtype ", info->name,
              " needs ", overflow ? std::string("more than 2^62") : std::to_string(numel * isz),
              " bytes, but its data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
    h.tensors.push_back(std::move(e));
  }

  // no two tensors may share a byte (empty tensors occupy none)
  std::vector<const Entry*> by_start;
  for (auto& e : h.tensors)
    if (e.end > e.begin) by_start.push_back(&e);
  std::sort(by_start.begin(), by_start.end(),
            [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < by_start.size(); i++) {
    const Entry *a = by_start[i - 1], *b = by_start[i];
    if (b->begin < a->end)
      corrupt(op, path, b->pos, "tensor ", json::quote(b->name), " data_offsets [", b->begin, ", ",
              b->end, "] overlap those of tensor ", json::quote(a->name), " [", a->begin, ", ",
              a->end, "]");
  }
  return h;
}

// ------------------------------------------------------------------------------------ writing

struct TempFile {
  std::string path;
  int fd = -1;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!path.empty()) ::unlink(path.c_str());
  }
};

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  auto p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      fail(ErrorKind::Runtime, "safe_save", "cannot write ", path, ": ", std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

const char* safetensors_dtype_name(DType dt) {
  const DTypeInfo* d = info_of(dt);
  FG_CHECK(d, ErrorKind::Type, "safe_save", "dtype ", dt.name(),
           " cannot be stored in safetensors");
  return d->name;
}

std::map<std::string, Tensor> safe_load(const std::string& path, const std::string& device) {
  MappedFile f(path, "safe_load");
  Header h = parse_header("safe_load", path, f.data, f.size);
  std::map<std::string, Tensor> out;
  for (auto& e : h.tensors)
    out.emplace(e.name,
                Tensor::from_data(f.data + h.data_start + e.begin, e.dtype, e.shape, device));
  return out;
}

std::map<std::string, std::string> safe_load_metadata(const std::string& path) {
  MappedFile f(path, "safe_load_metadata");
  return parse_header("safe_load_metadata", path, f.data, f.size).metadata;
}

void safe_save(const std::map<std::string, Tensor>& tensors, const std::string& path,
               const std::map<std::string, std::string>& metadata) {
  const char* op = "safe_save";
  struct Item {
    const std::string* name;
    const Tensor* t;
    const DTypeInfo* info;
    uint64_t bytes;
  };
  std::vector<Item> items;
  for (auto& [name, t] : tensors) {
    FG_CHECK(t.defined(), ErrorKind::Value, op, "tensor ", json::quote(name),
             " is an empty handle");
    FG_CHECK(name != "__metadata__", ErrorKind::Value, op,
             "\"__metadata__\" is reserved, not a tensor name");
    FG_CHECK(json::valid_utf8(name), ErrorKind::Value, op, "tensor name ", json::quote(name),
             " is not valid UTF-8");
    const DTypeInfo* info = info_of(t.dtype());
    FG_CHECK(info, ErrorKind::Type, op, "tensor ", json::quote(name), " has dtype ",
             t.dtype().name(), ", which safetensors cannot store");
    items.push_back({&name, &t, info, static_cast<uint64_t>(t.numel()) * t.dtype().itemsize()});
  }
  for (auto& [k, v] : metadata)
    FG_CHECK(json::valid_utf8(k) && json::valid_utf8(v), ErrorKind::Value, op, "metadata ",
             json::quote(k), " is not valid UTF-8");
  // larger dtypes first keeps every tensor aligned to its item size (the data starts 8-aligned)
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.info->rank != b.info->rank) return a.info->rank > b.info->rank;
    return *a.name < *b.name;
  });

  std::string hdr = "{";
  if (!metadata.empty()) {
    hdr += "\"__metadata__\":{";
    bool first = true;
    for (auto& [k, v] : metadata) {
      if (!first) hdr += ',';
      first = false;
      hdr += json::quote(k) + ":" + json::quote(v);
    }
    hdr += "}";
  }
  uint64_t off = 0;
  for (auto& it : items) {
    if (hdr.size() > 1) hdr += ',';
    hdr += json::quote(*it.name) + ":{\"dtype\":\"" + it.info->name + "\",\"shape\":[";
    for (size_t i = 0; i < it.t->shape().size(); i++)
      hdr += (i ? "," : "") + std::to_string(it.t->shape()[i]);
    hdr +=
        "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + it.bytes) + "]}";
    off += it.bytes;
  }
  hdr += "}";
  hdr.append((8 - hdr.size() % 8) % 8, ' ');

  // a fresh name in the same folder, so that the rename is atomic
  static std::atomic<uint64_t> counter{0};
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  FG_CHECK(!base.empty(), ErrorKind::Value, op, "path ", path, " names a folder, not a file");
  TempFile tmp;
  for (int attempt = 0; tmp.fd < 0; attempt++) {
    std::string name = dir + "." + base + ".tmp" + std::to_string(::getpid()) + "_" +
                       std::to_string(counter.fetch_add(1));
    int fd = ::open(name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST && attempt < 100) continue;
    if (fd < 0)
      fail(ErrorKind::Runtime, op, "cannot create a temporary file next to ", path, ": ", name,
           ": ", std::strerror(errno));
    tmp.fd = fd;
    tmp.path = name;
  }
  uint64_t n = hdr.size();
  unsigned char len[8];
  std::memcpy(len, &n, 8);
  write_all(tmp.fd, len, 8, tmp.path);
  write_all(tmp.fd, hdr.data(), hdr.size(), tmp.path);
  std::vector<unsigned char> buf;
  for (auto& it : items) {
    if (it.bytes == 0) continue;
    buf.resize(it.bytes);
    it.t->copy_to_host(buf.data(), buf.size());
    write_all(tmp.fd, buf.data(), buf.size(), tmp.path);
  }
  if (::fsync(tmp.fd) != 0)
    fail(ErrorKind::Runtime, op, "cannot flush ", tmp.path, ": ", std::strerror(errno));
  int fd = tmp.fd;
  tmp.fd = -1;
  if (::close(fd) != 0)
    fail(ErrorKind::Runtime, op, "cannot write ", tmp.path, ": ", std::strerror(errno));
  if (::rename(tmp.path.c_str(), path.c_str()) != 0)
    fail(ErrorKind::Runtime, op, "cannot rename ", tmp.path, " to ", path, ": ",
         std::strerror(errno));
  tmp.path.clear();  // renamed: nothing to clean up
}

}  // namespace fg
