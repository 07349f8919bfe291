#!/usr/bin/env python3
"""Loads a twp snapshot into PyTorch's own LeNet-5 and scores it on the MNIST test set.

The snapshot is read with nothing but the safetensors layout (json + numpy), loaded with
load_state_dict (so names and shapes must be PyTorch's), and the accuracy and loss PyTorch measures
must equal those twp recorded in the file's metadata. Exit 0 on agreement, 1 on disagreement, 77
(CTest's skip code here) when PyTorch is not installed (tools/setup-deps.sh --bench installs it).

usage: check_snapshot_pytorch.py SNAPSHOT.safetensors MNIST_DIR
"""
import json
import struct
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:
    print(f"skipped: {error} (install with tools/setup-deps.sh --bench)")
    sys.exit(77)


class LeNet5(nn.Module):
    """The reference project's LeNet-5."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, 16 * 5 * 5)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {name: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], "<f4")
               .reshape(e["shape"]) for name, e in header.items() if name != "__metadata__"}
    return tensors, header.get("__metadata__", {})


def main():
    snapshot, mnist_dir = sys.argv[1], sys.argv[2]
    tensors, metadata = load_safetensors(snapshot)
    model = LeNet5()
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in tensors.items()})
    images = np.frombuffer(open(f"{mnist_dir}/t10k-images-idx3-ubyte", "rb").read()[16:], np.uint8)
    labels = np.frombuffer(open(f"{mnist_dir}/t10k-labels-idx1-ubyte", "rb").read()[8:], np.uint8)
    x = (torch.from_numpy(images.reshape(-1, 1, 28, 28).astype(np.float32)) / 255 - 0.1307) / 0.3081
    y = torch.from_numpy(labels.astype(np.int64))
    with torch.no_grad():
        logits = model(x)
    accuracy = 100.0 * (logits.argmax(1) == y).double().mean().item()
    loss = F.cross_entropy(logits, y).item()
    twp_accuracy, twp_loss = float(metadata["test_accuracy"]), float(metadata["test_loss"])
    print(f"PyTorch: accuracy {accuracy:.2f}% loss {loss:.6f}; twp: {twp_accuracy:.2f}% {twp_loss:.6f}")
    ok = abs(accuracy - twp_accuracy) <= 0.02 and abs(loss - twp_loss) <= 1e-4 * max(1.0, twp_loss)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
