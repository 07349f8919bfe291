#!/usr/bin/env python3
"""PyTorch peer of bench_predictor: the reference's TransformerPredictor training step (forward,
MSELoss, backward, Adam) at the same shapes and threads. Prints one JSON object.

usage: bench_predictor_torch.py [--dim D] [--batch B] [--seq S] [--repeats N] [--threads N]
"""
import argparse
import json
import math
import statistics
import time

import torch
import torch.nn as nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_len=20):
        super().__init__()
        pe = torch.zeros(max_len, d_model)
        position = torch.arange(0, max_len, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * (-math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term[: d_model // 2])
        self.register_buffer("pe", pe.unsqueeze(0))

    def forward(self, x):
        return x + self.pe[:, : x.size(1)]


class TransformerPredictor(nn.Module):
    def __init__(self, d, nhead):
        super().__init__()
        self.pos_encoder = PositionalEncoding(d)
        layer = nn.TransformerEncoderLayer(d_model=d, nhead=nhead, dim_feedforward=2048, dropout=0.1,
                                           batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=6)
        self.output_projection = nn.Linear(d, d)

    def forward(self, src):
        return self.output_projection(self.transformer_encoder(self.pos_encoder(src))[:, -1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dim", type=int, default=500)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    nhead = 8 if args.dim % 8 == 0 else 5 if args.dim % 5 == 0 else max(h for h in range(1, 9) if args.dim % h == 0)
    model = TransformerPredictor(args.dim, nhead)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, args.seq, args.dim)
    y = torch.randn(args.batch, args.dim)

    def step():
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        loss.item()

    for _ in range(3):
        step()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"peer": "pytorch", "torch_version": torch.__version__, "threads": args.threads,
                      "dim": args.dim, "heads": nhead, "train_step_ms_median": statistics.median(times),
                      "train_step_ms_min": min(times)}))


if __name__ == "__main__":
    main()
