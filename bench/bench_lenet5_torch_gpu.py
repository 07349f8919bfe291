#!/usr/bin/env python3
"""PyTorch peer of bench_lenet5_gpu on the same GPU: the identical LeNet-5 and SGD (lr 0.005,
momentum 0.9, weight decay 5e-4), MNIST-shaped data resident on the GPU, each batch gathered on the
GPU from a shuffled index list as twp does. Two ways: eager, and the whole step captured with
torch.cuda.CUDAGraph (static input buffers; SGD's momentum buffers made before capture, as
PyTorch's "whole network capture" recipe does). Prints one JSON object; where torch or a CUDA
device is missing it prints {"skipped": "<why>"} and exits 0.

usage: bench_lenet5_torch_gpu.py [--seconds S] [--device N]
"""
import argparse
import json
import os
import sys
import statistics
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--device", type=int, default=0)
    args = parser.parse_args()
    try:
        import torch
        import torch.nn as nn
    except ImportError as e:
        print(json.dumps({"skipped": f"no PyTorch ({e})"}))
        return
    if not torch.cuda.is_available():
        print(json.dumps({"skipped": f"PyTorch {torch.__version__} sees no CUDA device"}))
        return

    # The identical model: the CPU benchmark's definition (this folder).
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_lenet5_torch import LeNet5

    device = torch.device("cuda", args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as twp
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    n_train = 60000
    images = torch.randn(n_train, 1, 28, 28, device=device)
    labels = torch.randint(0, 10, (n_train,), device=device)
    order = torch.randperm(n_train, device=device)
    results = {"peer": "pytorch", "torch_version": torch.__version__,
               "device": torch.cuda.get_device_name(device), "cudnn": torch.backends.cudnn.version()}

    def rate(step, batch):
        for _ in range(50):
            step()
        torch.cuda.synchronize()
        rates = []
        for _ in range(5):
            steps, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds / 5:
                for _ in range(100):
                    step()
                steps += 100
                torch.cuda.synchronize()
            rates.append(steps * batch / (time.perf_counter() - start))
        return statistics.median(rates)

    for batch in (32, 64):
        model = LeNet5().to(device)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.005, momentum=0.9, weight_decay=5e-4)
        loss_fn = nn.CrossEntropyLoss()
        position = [0]

        def eager_step():
            i = position[0]
            if i + batch > n_train:
                i = 0
            rows = order[i:i + batch]
            position[0] = i + batch
            x, y = images.index_select(0, rows), labels.index_select(0, rows)
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            optimizer.step()

        results[f"train_images_per_s_batch{batch}_eager"] = rate(eager_step, batch)

        # The CUDA-graph version: static rows buffer; gather, forward, backward and step captured.
        static_rows = order[:batch].clone()
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(3):  # warm-up on a side stream, as the recipe asks; makes the momentum buffers
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(images.index_select(0, static_rows)), labels.index_select(0, static_rows)).backward()
                optimizer.step()
        torch.cuda.current_stream(device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            static_loss = loss_fn(model(images.index_select(0, static_rows)), labels.index_select(0, static_rows))
            static_loss.backward()
            optimizer.step()

        def graph_step():
            i = position[0]
            if i + batch > n_train:
                i = 0
            static_rows.copy_(order[i:i + batch])
            position[0] = i + batch
            graph.replay()

        results[f"train_images_per_s_batch{batch}_cuda_graph"] = rate(graph_step, batch)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
