#!/usr/bin/python3
"""Writes tests/fixtures/pca_sklearn.safetensors: scikit-learn's PCA of a small dataset, the
reference tests/test_pca.cpp compares twp's fit_pca against (the test needs neither Python nor
scikit-learn; this script is only rerun to change the fixture).

Data: X [40, 300] = offset + U · diag(s) · Vᵀ with U [40, 30] orthonormal and orthogonal to the
constant vector (so the mean is exactly the offset), V [300, 30] orthonormal, s_r = 10 · 0.75^r:
a decaying spectrum with 25% gaps, so every component is well determined. X is stored as float32
(what twp fits) and scikit-learn fits those same values upcast to float64, giving a reference
exact to double precision. Seeded numpy RNG: rerunning gives the same file.

Tensors (row-major, little-endian): X F32 [40, 300]; components F64 [20, 300] (components_);
explained_variance, explained_variance_ratio F64 [20]; mean F64 [300] (mean_); transform F64
[40, 20] (transform(X)). Metadata: generator, sklearn version, solver.

Debian 12's python3-sklearn is 1.2.1: its signs come from the scores (u-based svd_flip), not
from the components as in scikit-learn >= 1.5 and twp, so the test compares up to one sign per
component.

usage: /usr/bin/python3 tools/make_pca_fixture.py [output path]
"""
import json
import pathlib
import struct
import sys

import numpy as np
import sklearn
from sklearn.decomposition import PCA

N, D, RANK, COMPONENTS, SEED = 40, 300, 30, 20, 20240611


def write_safetensors(path, tensors, metadata):
    """Minimal safetensors writer: 8-byte LE header length, JSON header, raw data."""
    dtypes = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64"}
    header, chunks, offset = {"__metadata__": metadata}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtypes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # data 8-byte aligned, as the reference writer does
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def main():
    output = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                          pathlib.Path(__file__).resolve().parent.parent /
                          "tests/fixtures/pca_sklearn.safetensors")
    rng = np.random.default_rng(SEED)
    # Orthonormal columns orthogonal to the ones vector: QR of [1, random], dropping the first.
    u = np.linalg.qr(np.hstack([np.ones((N, 1)), rng.standard_normal((N, RANK))]))[0][:, 1:]
    v = np.linalg.qr(rng.standard_normal((D, RANK)))[0]
    s = 10.0 * 0.75 ** np.arange(RANK)
    offset = rng.uniform(-0.5, 0.5, D)
    x = (offset + (u * s) @ v.T).astype("<f4")

    pca = PCA(n_components=COMPONENTS, svd_solver="full").fit(x.astype(np.float64))
    tensors = {
        "X": x,
        "components": pca.components_.astype("<f8"),
        "explained_variance": pca.explained_variance_.astype("<f8"),
        "explained_variance_ratio": pca.explained_variance_ratio_.astype("<f8"),
        "mean": pca.mean_.astype("<f8"),
        "transform": pca.transform(x.astype(np.float64)).astype("<f8"),
    }
    metadata = {"generator": "tools/make_pca_fixture.py", "seed": str(SEED),
                "sklearn_version": sklearn.__version__, "svd_solver": "full",
                "fit_dtype": "float64 (X upcast)"}
    output.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors(output, tensors, metadata)
    print(f"wrote {output} ({output.stat().st_size} bytes), sklearn {sklearn.__version__}")


if __name__ == "__main__":
    main()
