"""mercato vs PyTorch-Python: the same CNN, the same libtorch, one run, one table.

    python3 benches/compare/vision.py [--train-images 20000] [--rounds 3] [--threads 2]

Network: the tch-rs MNIST net (conv5x5x32 - pool - conv5x5x64 - pool - fc1024 - dropout 0.5
- fc10), Adam lr 1e-3, batch 256, no augmentation, on Fashion-MNIST
(`$MERCATO_FASHION_MNIST` or /usr/share/datasets/fashion-mnist). Both sides do the same work
per training batch: gather the batch from a uint8 tensor, scale and normalise, forward,
cross-entropy, backward, Adam step, read the loss and count correct predictions.
Inference: class probabilities for the 10k test images in batches of 256 (mercato's
prediction chunk) in eval mode without autograd.

mercato runs through `mercato.vision.ImageClassifier` (Rust training loop in tch), PyTorch
through the equivalent Python loop; both load the libtorch of the venv's torch==2.13.0 and
use the same number of intra-op threads. Rounds alternate the two and the best round of each
is reported (the machine is shared: other jobs add noise; compare ratios, not absolutes).

Needs a Python with torch and mercato[vision] installed (`make develop`); when run with a
Python lacking them it re-runs itself with the repository's `.venv/bin/python`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _reexec_in_venv() -> None:
    try:
        import _mercato_vision  # noqa: F401
        import torch  # noqa: F401
    except ImportError:
        venv_py = REPO / ".venv" / "bin" / "python"
        if venv_py.exists() and Path(sys.executable).resolve() != venv_py.resolve():
            os.execv(str(venv_py), [str(venv_py), *sys.argv])
        sys.exit(
            "needs torch==2.13.0 and mercato[vision]: run `make develop` (or see crates/mercato-vision-py)"
        )


_reexec_in_venv()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from mercato.datasets import load_fashion_mnist  # noqa: E402
from mercato.vision import ImageClassifier  # noqa: E402

BATCH = 256
MEAN, STD = 0.2860, 0.3530


class Net(nn.Module):
    """The same network as mercato's small_cnn (hidden 1024)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc1 = nn.Linear(1024, 1024)
        self.fc2 = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(F.dropout(x, 0.5, self.training))


def torch_train(x_u8: torch.Tensor, y: torch.Tensor, seed: int) -> float:
    torch.manual_seed(seed)
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    perm = torch.randperm(len(x_u8))
    start = time.perf_counter()
    loss_sum, correct = 0.0, 0
    for i in range(0, len(perm), BATCH):
        idx = perm[i : i + BATCH]
        xb = (x_u8.index_select(0, idx).float() * (1 / 255) - MEAN) / STD
        yb = y.index_select(0, idx)
        logits = net(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_sum += loss.item() * len(idx)
        correct += int((logits.argmax(-1) == yb).sum())
    return len(perm) / (time.perf_counter() - start)


def torch_infer(net: nn.Module, x_u8: torch.Tensor) -> float:
    net.eval()
    start = time.perf_counter()
    with torch.inference_mode():
        outs = [
            F.softmax(net((x_u8[i : i + BATCH].float() * (1 / 255) - MEAN) / STD), -1)
            for i in range(0, len(x_u8), BATCH)
        ]
        torch.cat(outs).numpy()
    return len(x_u8) / (time.perf_counter() - start)


def mercato_train(x: np.ndarray, y: np.ndarray, threads: int, seed: int) -> tuple[float, ImageClassifier]:
    clf = ImageClassifier(
        "small_cnn",
        num_classes=10,
        hidden=1024,
        crop_padding=0,
        horizontal_flip=False,
        lr_schedule="constant",
        normalization=([MEAN], [STD]),
        num_threads=threads,
        seed=seed,
        device="cpu",
        show_progress=False,
        epochs=1,
        batch_size=BATCH,
        validation_fraction=0.0,
    )
    clf.fit(x, y)
    return clf.history_["images_per_second"], clf


def mercato_infer(clf: ImageClassifier, x: np.ndarray) -> float:
    start = time.perf_counter()
    clf.predict_proba(x)
    return len(x) / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train-images", type=int, default=20000, help="training images per measured epoch")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    (x_train, y_train), (x_test, _) = load_fashion_mnist()
    x_train, y_train = x_train[: args.train_images], y_train[: args.train_images].astype(np.int64)
    tx = torch.from_numpy(x_train).unsqueeze(1).contiguous()
    ty = torch.from_numpy(y_train)
    tt = torch.from_numpy(x_test).unsqueeze(1).contiguous()

    best = {"torch_train": 0.0, "mercato_train": 0.0, "torch_infer": 0.0, "mercato_infer": 0.0}
    net = Net()
    clf = None
    for r in range(args.rounds):
        best["torch_train"] = max(best["torch_train"], torch_train(tx, ty, r))
        ips, clf = mercato_train(x_train, y_train, args.threads, r)
        torch.set_num_threads(args.threads)
        best["mercato_train"] = max(best["mercato_train"], ips)
        best["torch_infer"] = max(best["torch_infer"], torch_infer(net, tt))
        best["mercato_infer"] = max(best["mercato_infer"], mercato_infer(clf, x_test))
        print(
            f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v:,.0f}" for k, v in best.items()),
            file=sys.stderr,
        )

    print(
        f"\nvision: small_cnn (conv32-conv64-fc1024-fc10, Adam, batch {BATCH}), Fashion-MNIST, CPU, "
        f"{args.threads} threads, torch {torch.__version__}, best of {args.rounds} rounds"
    )
    print(f"{'task':<34} {'PyTorch img/s':>14} {'mercato img/s':>14} {'mercato ÷ PyTorch':>18}")
    rows = [
        (f"train ({len(x_train):,} images, 1 epoch)", "torch_train", "mercato_train"),
        (f"inference ({len(x_test):,} images)", "torch_infer", "mercato_infer"),
    ]
    for name, t, m in rows:
        print(f"{name:<34} {best[t]:>14,.0f} {best[m]:>14,.0f} {best[m] / best[t]:>17.2f}x")


if __name__ == "__main__":
    main()
