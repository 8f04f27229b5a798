# A training script written for tinygrad (its beautiful_mnist shape: a model class, TinyJit train step,
# an optimizer, Tensor.randint batch sampling, .item() in the loop) on random data. The import lines are
# the only lines that differ from the tinygrad version: `tinygrad` -> `femtograd`.
from femtograd import Tensor, TinyJit, nn, GlobalCounters
from femtograd.helpers import getenv, trange
from femtograd.nn.state import get_parameters


class Model:
  def __init__(self):
    self.l1 = nn.Linear(16, 32)
    self.l2 = nn.Linear(32, 32)
    self.l3 = nn.Linear(32, 4)

  def __call__(self, x: Tensor) -> Tensor:
    x = self.l1(x).relu()
    x = self.l2(x).relu().dropout(0.1)
    return self.l3(x)


def main(steps: int = getenv("STEPS", 60)):
  Tensor.manual_seed(42)
  # a learnable task: 4 classes given by a fixed random linear map of the inputs
  W = Tensor.randn(16, 4)
  X_train, X_test = Tensor.randn(1024, 16), Tensor.randn(256, 16)
  Y_train, Y_test = (X_train @ W).argmax(axis=1), (X_test @ W).argmax(axis=1)
  Tensor.realize(X_train, Y_train, X_test, Y_test)

  model = Model()
  opt = nn.optim.Adam(get_parameters(model), lr=0.01)

  @TinyJit
  @Tensor.train()
  def train_step() -> Tensor:
    opt.zero_grad()
    samples = Tensor.randint(getenv("BS", 64), high=X_train.shape[0])
    loss = model(X_train[samples]).sparse_categorical_crossentropy(Y_train[samples]).backward()
    opt.step()
    return loss

  @TinyJit
  def get_test_acc() -> Tensor: return (model(X_test).argmax(axis=1) == Y_test).mean() * 100

  test_acc, losses = float("nan"), []
  for i in (t := trange(steps)):
    GlobalCounters.reset()  # NOTE: this makes it nice for DEBUG=2 timing
    loss = train_step()
    losses.append(loss.item())
    if i % 20 == 19: test_acc = get_test_acc().item()
    if hasattr(t, "set_description"): t.set_description(f"loss: {losses[-1]:6.2f} test_accuracy: {test_acc:5.2f}%")
  return losses, get_test_acc().item(), train_step


if __name__ == "__main__":
  losses, acc, _ = main()
  print(f"first loss {losses[0]:.3f}, last loss {losses[-1]:.3f}, test accuracy {acc:.1f}%")
