#!/usr/bin/env python3
"""Writes tests/fixtures/transformer_torch.safetensors: the reference predictor in PyTorch
(nn.TransformerEncoder of post-norm ReLU layers, batch_first, the reference's positional encoding,
a Linear on the last position) on fixed random weights and inputs, with its outputs and the
gradients of an MSE loss. tests/test_transformer.cpp reads it; the test itself needs no torch.

Needs Debian's python3-torch (tools/setup-deps.sh --bench). Run from the repository root:
    /usr/bin/python3 tools/make_transformer_fixture.py
"""
import json
import math
import struct

import numpy as np
import torch
import torch.nn as nn

D, HEADS, LAYERS, FF, S, B = 20, 5, 2, 32, 4, 3


class PositionalEncoding(nn.Module):
    """The reference project's sinusoidal encoding (max_len 20)."""

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
    def __init__(self):
        super().__init__()
        self.pos_encoder = PositionalEncoding(D)
        layer = nn.TransformerEncoderLayer(d_model=D, nhead=HEADS, dim_feedforward=FF, dropout=0.0,
                                           batch_first=True)
        self.transformer_encoder = nn.TransformerEncoder(layer, num_layers=LAYERS)
        self.output_projection = nn.Linear(D, D)

    def forward(self, src):
        return self.output_projection(self.transformer_encoder(self.pos_encoder(src))[:, -1])


def write_safetensors(path, tensors, metadata):
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    torch.manual_seed(1234)
    model = TransformerPredictor()
    # Every layer different and no parameter at its special initial value, so a mix-up shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(torch.randn_like(p) * (0.3 if p.dim() > 1 else 0.1) + (1.0 if "norm" in name and "weight" in name else 0.0))
    x = torch.randn(B, S, D)
    target = torch.randn(B, D)
    model.train()  # dropout is 0: train and eval agree, and autograd runs the fast path off
    prediction = model(x)
    loss = nn.functional.mse_loss(prediction, target)
    loss.backward()
    tensors = {"input": x.numpy(), "target": target.numpy(), "prediction": prediction.detach().numpy(),
               "loss": np.array([loss.item()], dtype=np.float32)}
    for name, p in model.named_parameters():
        tensors[name] = p.detach().numpy()
        tensors["grad." + name] = p.grad.numpy()
    metadata = {"d_model": str(D), "nhead": str(HEADS), "num_layers": str(LAYERS), "dim_feedforward": str(FF),
                "sequence_length": str(S), "batch": str(B), "torch": torch.__version__}
    write_safetensors("tests/fixtures/transformer_torch.safetensors", tensors, metadata)
    print("wrote tests/fixtures/transformer_torch.safetensors, loss", loss.item())


if __name__ == "__main__":
    main()
