// VIZ: rewrites and kernel sources are recorded as text (so recording keeps no buffer alive), served
// as JSON and a page on 127.0.0.1. (tests/python/test_viz.py drives the page in Chromium.)
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "femtograd/nn/layers.h"
#include "femtograd/nn/optim.h"
#include "femtograd/runtime/device.h"
#include "femtograd/tensor/tensor.h"
#include "femtograd/tools/viz.h"

using namespace fg;

namespace {
std::string http_get(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}
// the memory of the device the tensors live on (DEV=CUDA runs the suite on the GPU)
size_t in_use() { return get_device(default_device()).allocator().stats().in_use; }
}  // namespace

TEST(Viz, RecordsAndServes) {
  viz::clear();
  viz::enable();
  Tensor a = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  (a.pad({{1, 0}, {0, 1}}).T().relu() * 2).sum({1}).realize();  // index math for the rules to simplify
  viz::disable();
  ASSERT_GT(viz::rewrite_count(), 0u);
  ASSERT_GT(viz::kernel_count(), 0u);
  std::string one = viz::rewrite_json(0);
  EXPECT_NE(one.find("\"pass\":"), std::string::npos) << one;
  EXPECT_NE(one.find(".cc:"), std::string::npos) << one;  // a rule's file:line
  EXPECT_NE(viz::kernels_json().find("void "), std::string::npos);

  int port = viz::serve(0);
  ASSERT_GT(port, 0);
  std::string page = http_get(port, "/");
  EXPECT_NE(page.find("200 OK"), std::string::npos);
  EXPECT_NE(page.find("<title>femtograd VIZ</title>"), std::string::npos);
  EXPECT_EQ(page.find("http://"), std::string::npos);  // no external assets
  std::string list = http_get(port, "/api/rewrites");
  EXPECT_NE(list.find("application/json"), std::string::npos);
  EXPECT_NE(list.find("\"fired\":"), std::string::npos);
  EXPECT_NE(http_get(port, "/api/rewrite/0").find("\"rules\":["), std::string::npos);
  EXPECT_NE(http_get(port, "/nope").find("404"), std::string::npos);
  EXPECT_NE(http_get(port, "/api/rewrite/99999999").find("404"), std::string::npos);
  viz::stop();
  EXPECT_EQ(http_get(port, "/"), "");  // stopped
}

// recording holds text, not nodes: training with VIZ on and dropping the model frees everything
TEST(Viz, RecordingKeepsNoBufferAlive) {
  Tensor::rand({1}).realize();  // the RNG state lives as long as the program
  size_t baseline = in_use();
  viz::enable();
  {
    nn::Linear l1(8, 16), l2(16, 2);
    std::vector<Tensor*> params{&l1.weight, &l1.bias, &l2.weight, &l2.bias};
    for (Tensor* p : params) p->requires_grad_();
    nn::Adam opt(params, 1e-2);
    Tensor x = Tensor::rand({4, 8}), t = Tensor::rand({4, 2});
    for (int i = 0; i < 3; i++) {
      opt.zero_grad();
      Tensor loss = (l2(l1(x).relu()) - t).square().mean();
      loss.backward();
      opt.step({&loss});
    }
  }
  viz::disable();
  EXPECT_GT(viz::rewrite_count(), 0u);
  EXPECT_EQ(in_use(), baseline);
  viz::clear();
}
