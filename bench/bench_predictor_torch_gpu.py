#!/usr/bin/env python3
"""PyTorch peer of bench_predictor_gpu on the same GPU: the reference's TransformerPredictor
(bench_predictor_torch.py in this folder) with MSELoss and Adam (lr 1e-4), FP32 (no TF32), at the
same shapes. Measures the training step eager with loss.item() every step (as the reference's
loop does), eager without it, and the whole step captured with torch.cuda.CUDAGraph (static input,
Adam with capturable=True, as PyTorch's "whole network capture" recipe); and inference eager and
as a graph. Prints one JSON object; where torch or a CUDA device is missing it prints
{"skipped": "<why>"} and exits 0.

usage: bench_predictor_torch_gpu.py [--seconds S] [--device N] [--dim D] [--batch B] [--seq K]
"""
import argparse
import json
import os
import statistics
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--device", type=int, default=0)
    parser.add_argument("--dim", type=int, default=500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=3)
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
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_predictor_torch import TransformerPredictor

    device = torch.device("cuda", args.device)
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32, as twp by default
    torch.manual_seed(0)
    d = args.dim
    nhead = 8 if d % 8 == 0 else 5 if d % 5 == 0 else max(h for h in range(1, 9) if d % h == 0)
    x = torch.randn(args.batch, args.seq, d, device=device)
    y = torch.randn(args.batch, d, device=device)

    def per_second(call):
        for _ in range(5):
            call()
        torch.cuda.synchronize()
        rates = []
        for _ in range(5):
            calls, start = 0, time.perf_counter()
            while time.perf_counter() - start < args.seconds / 5:
                for _ in range(10):
                    call()
                calls += 10
                torch.cuda.synchronize()
            rates.append(calls / (time.perf_counter() - start))
        return statistics.median(rates)

    results = {"peer": "pytorch", "torch_version": torch.__version__,
               "device": torch.cuda.get_device_name(device), "dim": d, "heads": nhead, "batch": args.batch,
               "seq": args.seq}

    def make(capturable):
        model = TransformerPredictor(d, nhead).to(device)
        model.train()
        return model, torch.optim.Adam(model.parameters(), lr=1e-4, capturable=capturable)

    model, optimizer = make(False)

    def eager_step(sync):
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        if sync:
            loss.item()

    results["train_step_ms_eager_loop"] = 1e3 / per_second(lambda: eager_step(True))
    results["train_step_ms_eager"] = 1e3 / per_second(lambda: eager_step(False))

    model, optimizer = make(True)
    static_x, static_y = x.clone(), y.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as the recipe asks
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            nn.functional.mse_loss(model(static_x), static_y).backward()
            optimizer.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        static_loss = nn.functional.mse_loss(model(static_x), static_y)
        static_loss.backward()
        optimizer.step()
    results["train_step_ms_cuda_graph"] = 1e3 / per_second(graph.replay)

    model.eval()
    with torch.no_grad():
        results["inference_ms_eager"] = 1e3 / per_second(lambda: model(x))
        for _ in range(3):
            model(static_x)
        torch.cuda.synchronize()
        inference_graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(inference_graph):
            model(static_x)
        results["inference_ms_cuda_graph"] = 1e3 / per_second(inference_graph.replay)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
