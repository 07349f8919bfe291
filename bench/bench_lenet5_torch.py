#!/usr/bin/env python3
"""PyTorch peer of bench_lenet5: the identical LeNet-5, data held in memory and SGD optimizer.

Run at PyTorch's best on this kind of machine: 2 torch threads, OPENBLAS_NUM_THREADS=1 (set by
bench/run_bench_lenet5.sh), OpenBLAS as the system BLAS (tools/setup-deps.sh installs
libopenblas0-pthread). Inputs are random tensors shaped like MNIST: throughput does not depend on
pixel values. Prints one JSON object on stdout.

usage: bench_lenet5_torch.py [--threads N] [--seconds S]
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = x.flatten(1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def median_rate(step, items_per_call, seconds, repeats=5):
    """Calls step() for about seconds/repeats per repeat; returns the median items/s."""
    for _ in range(20):  # warm-up
        step()
    rates = []
    for _ in range(repeats):
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / repeats:
            step()
            calls += 1
        rates.append(calls * items_per_call / (time.perf_counter() - start))
    return statistics.median(rates)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    n_train = 60000
    images = torch.randn(n_train, 1, 28, 28)
    labels = torch.randint(0, 10, (n_train,))
    model = LeNet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    results = {"peer": "pytorch", "torch_version": torch.__version__, "threads": args.threads}
    for batch in (32, 64):
        position = [0]

        def train_step():
            i = position[0]
            if i + batch > n_train:
                i = 0
            x, y = images[i:i + batch], labels[i:i + batch]
            position[0] = i + batch
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()

        results[f"train_images_per_s_batch{batch}"] = median_rate(train_step, batch, args.seconds)

    test_images = images[:10000]

    def inference():
        with torch.no_grad():
            for i in range(0, 10000, 1000):
                model(test_images[i:i + 1000]).argmax(1)

    results["inference_images_per_s_batch1000"] = median_rate(inference, 10000, args.seconds)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
