#!/usr/bin/env python3
"""PyTorch peer of twp's base training as a whole process: what `twp --mode train_base` does,
written the usual PyTorch way at its best on this machine (2 torch threads, OpenBLAS as the system
BLAS, OPENBLAS_NUM_THREADS=1 set by bench/run_bench_process.sh).

Reads MNIST's raw IDX files, normalizes with MNIST's mean and standard deviation, then per run:
LeNet-5 (the reference's), SGD(lr 0.005, momentum 0.9, weight decay 5e-4), batch 32, a fresh
shuffle every epoch, and `--snapshots_per_epoch` evenly spaced snapshots per epoch, each one a
torch.save of the state_dict followed by scoring the test set in batches of 1000. Prints one JSON
object with the wall time.

usage: lenet5_process_torch.py --data_dir D --out_dir O [--epochs 1] [--runs 1]
                               [--snapshots_per_epoch 1] [--threads 2]
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.nn as nn

from bench_lenet5_torch import LeNet5  # the same model as the throughput peer (this folder)

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def read_images(path):
    data = np.frombuffer(open(path, "rb").read()[16:], np.uint8).reshape(-1, 1, 28, 28)
    return torch.from_numpy(((data.astype(np.float32) / 255.0) - MNIST_MEAN) / MNIST_STD)


def read_labels(path):
    return torch.from_numpy(np.frombuffer(open(path, "rb").read()[8:], np.uint8).astype(np.int64))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data_dir", required=True)
    parser.add_argument("--out_dir", required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--snapshots_per_epoch", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    start = time.perf_counter()
    torch.set_num_threads(args.threads)
    train_x = read_images(f"{args.data_dir}/train-images-idx3-ubyte")
    train_y = read_labels(f"{args.data_dir}/train-labels-idx1-ubyte")
    test_x = read_images(f"{args.data_dir}/t10k-images-idx3-ubyte")
    test_y = read_labels(f"{args.data_dir}/t10k-labels-idx1-ubyte")
    batch = 32
    batches = (len(train_x) + batch - 1) // batch
    # Evenly spaced, the last at the end of the epoch (as twp's --snapshots_per_epoch).
    snapshot_after = {batches * (i + 1) // args.snapshots_per_epoch - 1 for i in range(args.snapshots_per_epoch)}
    loss_fn = nn.CrossEntropyLoss()
    scorings, accuracy = 0, 0.0
    for run in range(1, args.runs + 1):
        torch.manual_seed(41 + run)
        model = LeNet5()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9, weight_decay=5e-4)
        os.makedirs(f"{args.out_dir}/run_{run}", exist_ok=True)
        for epoch in range(1, args.epochs + 1):
            order = torch.randperm(len(train_x))
            model.train()
            for b in range(batches):
                rows = order[b * batch:(b + 1) * batch]
                optimizer.zero_grad()
                loss = loss_fn(model(train_x[rows]), train_y[rows])
                loss.backward()
                optimizer.step()
                if b in snapshot_after:
                    torch.save(model.state_dict(), f"{args.out_dir}/run_{run}/epoch_{epoch:03d}_batch_{b + 1:05d}.pt")
                    model.eval()
                    correct = 0
                    with torch.no_grad():
                        for i in range(0, len(test_x), 1000):
                            correct += (model(test_x[i:i + 1000]).argmax(1) == test_y[i:i + 1000]).sum().item()
                    model.train()
                    scorings += 1
                    accuracy = 100.0 * correct / len(test_x)
    print(json.dumps({"peer": "pytorch", "torch_version": torch.__version__, "threads": args.threads,
                      "test_scorings": scorings, "final_test_accuracy": accuracy,
                      "seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
