#!/usr/bin/env python3
"""Reads twp's files with numpy alone, parsing safetensors by hand, and checks their numbers.

Needs python3-numpy only (tools/setup-deps.sh installs it), so it runs on a fresh machine where
tools/check_snapshot_pytorch.py is skipped for want of PyTorch. Every file is read the way
README.md shows: an 8-byte little-endian header length, a JSON header, the raw little-endian
data; then checked structurally (offsets cover the data exactly, shapes match byte counts, the
"twp.crc32" checksum when present, finite values), and then by what its numbers must satisfy:

  snapshot    LeNet-5's forward pass, written here in numpy, over the whole MNIST test set must
              measure the test accuracy (within 0.02 points) and loss (1e-4 relative) that twp
              recorded in the snapshot's metadata and in its run's index.json.
  experiment  the results folder of a `twp --mode full --apply_pca` run: every snapshot its
              config.txt's snapshot_dir lists (names, shapes, metadata against index.json; the
              first and last of each run scored as above); models/pca.safetensors (orthonormal
              components, the mean and explained variances re-derived from the train snapshots,
              the variance left out equal to what the round trip through the PCA loses);
              models/predictor_{best,last}.safetensors (every tensor's name and shape from the
              metadata's input_dim, nhead, num_layers, dim_feedforward; the PCA's component count
              equal to input_dim; the standardization statistics re-derived); and results.json's
              direct prediction MSEs of the transformer (its encoder run here in numpy), the
              last-value and the linear baselines, in PCA and in weight space, recomputed.
  selftest    the experiment check on a copy of those files, then on copies with one fault
              each (a flipped data byte, another snapshot's weights under a valid checksum, a
              truncated file, a PCA with a shifted mean, reversed components or one component
              fewer than the predictor's width, a predictor whose metadata claims another depth
              or whose output bias is shifted): each must fail, with the message for its fault.

usage: check_files_numpy.py snapshot SNAPSHOT.safetensors MNIST_DIR
       check_files_numpy.py experiment|selftest EXPERIMENT_DIR MNIST_DIR [SNAPSHOT_DIR]
(EXPERIMENT_DIR: results/experiment_<time>/, or a --results_dir holding just one; SNAPSHOT_DIR
overrides config.txt's snapshot_dir.) Exit 0 when every check passes, 1 with one
line naming the file and what is wrong otherwise, 2 on a usage error.
"""
import gzip
import hashlib
import json
import math
import os
import re
import shutil
import struct
import sys
import tempfile
import zlib

try:
    import numpy as np
except ImportError as error:
    print(f"check_files_numpy: {error}: install python3-numpy (tools/setup-deps.sh does)")
    sys.exit(1)


class CheckError(Exception):
    """A file that is not what twp should have written: the message names it and the check."""


# ---- safetensors, by hand ----

NUMPY_DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}


def read_safetensors(path):
    """Returns ({name: array} in header order, metadata {str: str}); raises CheckError."""
    raw = open(path, "rb").read()
    if len(raw) < 8:
        raise CheckError(f"{path}: {len(raw)} bytes, shorter than the 8-byte header length")
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        raise CheckError(f"{path}: header length {n} runs past the end of the {len(raw)}-byte file "
                         "(truncated?)")
    try:
        header = json.loads(raw[8:8 + n])
    except ValueError as error:
        raise CheckError(f"{path}: the header is not JSON ({error})")
    if not isinstance(header, dict):
        raise CheckError(f"{path}: the header is not a JSON object")
    data = raw[8 + n:]
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise CheckError(f"{path}: __metadata__ must map strings to strings")
    tensors, spans = {}, []
    for name, entry in header.items():
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in NUMPY_DTYPES:
            raise CheckError(f"{path}: tensor {name} has dtype {dtype!r}, not one twp writes")
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise CheckError(f"{path}: tensor {name} has a malformed shape {shape!r}")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise CheckError(f"{path}: tensor {name} has malformed data_offsets {offsets!r}")
        begin, end = offsets
        size = np.dtype(NUMPY_DTYPES[dtype]).itemsize * math.prod(shape)
        if not 0 <= begin <= end <= len(data) or end - begin != size:
            raise CheckError(f"{path}: tensor {name} {dtype}{shape} needs {size} bytes, its offsets "
                             f"[{begin}, {end}] in a {len(data)}-byte data buffer do not fit")
        tensors[name] = np.frombuffer(data[begin:end], NUMPY_DTYPES[dtype]).reshape(shape)
        spans.append((begin, end, name))
    position = 0
    for begin, end, name in sorted(spans):
        if begin != position:
            raise CheckError(f"{path}: tensor {name} starts at byte {begin}, not {position}: "
                             "tensors must cover the data buffer without gaps or overlaps")
        position = end
    if position != len(data):
        raise CheckError(f"{path}: the tensors cover {position} of the {len(data)} data bytes")
    if "twp.crc32" in metadata:
        computed = f"{zlib.crc32(data):08x}"
        if metadata["twp.crc32"] != computed:
            raise CheckError(f"{path}: checksum mismatch (twp.crc32 {metadata['twp.crc32']}, the data "
                             f"has {computed}): the file is corrupt")
    for name, array in tensors.items():
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise CheckError(f"{path}: tensor {name} holds NaN or Inf")
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """The writer the self test corrupts copies with; the checksum is recomputed (valid)."""
    dtypes = {np.dtype(v): k for k, v in NUMPY_DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, array in tensors.items():
        chunk = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtypes[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    data = b"".join(chunks)
    header["__metadata__"] = dict(metadata, **{"twp.crc32": f"{zlib.crc32(data):08x}"})
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)


def require(condition, message):
    if not condition:
        raise CheckError(message)


def metadata_number(path, metadata, key, kind=float):
    require(key in metadata, f"{path}: no {key!r} in its metadata")
    try:
        return kind(metadata[key])
    except ValueError:
        raise CheckError(f"{path}: metadata {key}={metadata[key]!r} is not a number")


def close(a, b, relative, absolute=0.0):
    return abs(a - b) <= absolute + relative * max(abs(a), abs(b))


# ---- LeNet-5 snapshots ----

# LeNet-5's state_dict, in order (experiment/lenet5.cpp): the flat vector twp's PCA sees.
LENET5 = [("conv1.weight", [6, 1, 5, 5]), ("conv1.bias", [6]), ("conv2.weight", [16, 6, 5, 5]),
          ("conv2.bias", [16]), ("fc1.weight", [120, 400]), ("fc1.bias", [120]),
          ("fc2.weight", [84, 120]), ("fc2.bias", [84]), ("fc3.weight", [10, 84]), ("fc3.bias", [10])]
LENET5_SIZE = sum(math.prod(shape) for _, shape in LENET5)  # 61,706


def read_snapshot(path):
    """(state {name: float32 array}, flat [61706] in state_dict order, metadata)."""
    tensors, metadata = read_safetensors(path)
    found = [(name, list(t.shape)) for name, t in tensors.items()]
    require(found == LENET5, f"{path}: tensors {found} are not LeNet-5's state_dict {LENET5}")
    require(all(t.dtype == np.float32 for t in tensors.values()), f"{path}: tensors are not F32")
    require(metadata.get("format") == "twp-lenet5-snapshot/1",
            f"{path}: metadata format {metadata.get('format')!r} is not twp-lenet5-snapshot/1")
    flat = np.concatenate([tensors[name].ravel() for name, _ in LENET5])
    return tensors, flat, metadata


def read_idx(path, magic):
    """An IDX file (raw or .gz) as uint8 [count, ...]."""
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    raw = (gzip.open if path.endswith(".gz") else open)(path, "rb").read()
    found, = struct.unpack(">i", raw[:4])
    require(found == magic, f"{path}: magic {found}, expected {magic}")
    dims = struct.unpack(f">{magic & 0xff}i", raw[4:4 + 4 * (magic & 0xff)])
    values = np.frombuffer(raw[4 + 4 * len(dims):], np.uint8)
    require(values.size == math.prod(dims), f"{path}: {values.size} bytes of data for dimensions {dims}")
    return values.reshape(dims)


def mnist_test_set(mnist_dir):
    """Test images normalized as torchvision does ([N, 1, 28, 28] float32) and labels [N]."""
    images = read_idx(os.path.join(mnist_dir, "t10k-images-idx3-ubyte"), 2051)
    labels = read_idx(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte"), 2049)
    require(len(images) == len(labels), f"{mnist_dir}: {len(images)} test images, {len(labels)} labels")
    x = (images.reshape(-1, 1, 28, 28).astype(np.float32) / np.float32(255) - np.float32(0.1307)) \
        / np.float32(0.3081)
    return x, labels.astype(np.int64)


def conv2d(x, weight, bias, padding):
    """x [N, C, H, W], weight [O, C, K, K] -> [N, O, H', W'], as torch.nn.functional.conv2d."""
    if padding:
        x = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    k = weight.shape[2]
    windows = np.lib.stride_tricks.sliding_window_view(x, (k, k), axis=(2, 3))  # [N, C, H', W', K, K]
    out = np.tensordot(windows, weight, axes=([1, 4, 5], [1, 2, 3]))            # [N, H', W', O]
    return out.transpose(0, 3, 1, 2) + bias[None, :, None, None]


def max_pool2(x):
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def lenet5_logits(state, x):
    """The reference's LeNet-5: conv(5, pad 2)-relu-pool, conv(5)-relu-pool, 400-120-84-10."""
    relu = lambda v: np.maximum(v, 0)
    x = max_pool2(relu(conv2d(x, state["conv1.weight"], state["conv1.bias"], 2)))
    x = max_pool2(relu(conv2d(x, state["conv2.weight"], state["conv2.bias"], 0)))
    x = x.reshape(len(x), 400)
    x = relu(x @ state["fc1.weight"].T + state["fc1.bias"])
    x = relu(x @ state["fc2.weight"].T + state["fc2.bias"])
    return x @ state["fc3.weight"].T + state["fc3.bias"]


def score(state, test_set):
    """(accuracy %, mean cross-entropy) over the test set, in batches of 1000."""
    x, y = test_set
    correct, loss = 0, 0.0
    for first in range(0, len(x), 1000):
        logits = lenet5_logits(state, x[first:first + 1000]).astype(np.float64)
        labels = y[first:first + 1000]
        top = logits.max(axis=1, keepdims=True)
        log_sum = np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0]
        loss += float((log_sum - logits[np.arange(len(labels)), labels]).sum())
        correct += int((logits.argmax(axis=1) == labels).sum())
    return 100.0 * correct / len(x), loss / len(x)


def index_record(path):
    """The entry of index.json (beside the snapshot) that lists it, or None without an index."""
    index_path = os.path.join(os.path.dirname(path), "index.json")
    if not os.path.exists(index_path):
        return None
    index = json.load(open(index_path))
    records = [r for r in index.get("snapshots", []) if r.get("file") == os.path.basename(path)]
    require(len(records) == 1, f"{index_path} lists {os.path.basename(path)} {len(records)} times, not once")
    return records[0]


def check_snapshot_metadata(path, metadata, record):
    """The metadata against the index.json entry (the same numbers, written twice)."""
    for key in ("epoch", "step", "batch_in_epoch"):
        require(metadata_number(path, metadata, key, int) == record[key],
                f"{path}: metadata {key}={metadata[key]}, index.json says {record[key]}")
    for key in ("epoch_fraction", "test_accuracy", "test_loss"):
        require(close(metadata_number(path, metadata, key), float(record[key]), 1e-12),
                f"{path}: metadata {key}={metadata[key]}, index.json says {record[key]}")


SCORES = {}  # weights' digest -> (accuracy, loss): the self test scores the same weights often


def check_snapshot_scores(path, state, metadata, test_set):
    """numpy's LeNet-5 must measure what twp recorded (the PyTorch check's tolerances)."""
    digest = hashlib.sha256(b"".join(state[name].tobytes() for name, _ in LENET5)).hexdigest()
    if digest not in SCORES:
        SCORES[digest] = score(state, test_set)
    accuracy, loss = SCORES[digest]
    twp_accuracy = metadata_number(path, metadata, "test_accuracy")
    twp_loss = metadata_number(path, metadata, "test_loss")
    require(abs(accuracy - twp_accuracy) <= 0.02 and abs(loss - twp_loss) <= 1e-4 * max(1.0, twp_loss),
            f"{path}: numpy measures accuracy {accuracy:.2f}% and loss {loss:.6f} on the test set, "
            f"twp recorded {twp_accuracy:.2f}% and {twp_loss:.6f}")
    return accuracy, loss


def check_snapshot(path, mnist_dir):
    state, _, metadata = read_snapshot(path)
    record = index_record(path)
    if record is not None:
        check_snapshot_metadata(path, metadata, record)
    accuracy, loss = check_snapshot_scores(path, state, metadata, mnist_test_set(mnist_dir))
    print(f"{os.path.basename(path)}: numpy measures {accuracy:.2f}%, loss {loss:.6f}, as twp recorded"
          + ("" if record else " (no index.json beside it)"))


# ---- an experiment folder: snapshots, PCA, predictor, results.json ----

def resolve_experiment(path):
    """An experiment folder, or a --results_dir holding exactly one (the test fixture's)."""
    if os.path.exists(os.path.join(path, "config.txt")):
        return path
    require(os.path.isdir(path), f"{path}: no such folder")
    found = sorted(d for d in os.listdir(path) if d.startswith("experiment_") and
                   os.path.exists(os.path.join(path, d, "config.txt")))
    require(len(found) == 1, f"{path}: not an experiment folder, and it holds {len(found)} experiment_* "
                             "folders, not one: give the experiment folder itself")
    return os.path.join(path, found[0])


def read_config(experiment):
    """config.txt's "key: value" lines."""
    path = os.path.join(experiment, "config.txt")
    require(os.path.exists(path), f"{experiment}: no config.txt: not a twp results folder")
    config = {}
    for line in open(path):
        found = re.match(r"^([a-z_]+): (.*)$", line.rstrip("\n"))
        if found:
            config[found.group(1)] = found.group(2)
    for key in ("snapshot_dir", "train_split", "apply_pca"):
        require(key in config, f"{path}: no '{key}:' line")
    return config


def load_runs(snapshot_dir):
    """Per run folder, in run order: {dir, records (index.json's), x [count, 61706] float32 in
    training order, states and metadata (per snapshot)}."""
    runs_dir = os.path.join(snapshot_dir, "training_runs")
    require(os.path.isdir(runs_dir), f"{runs_dir}: no such folder (give SNAPSHOT_DIR)")
    numbers = sorted(int(d[4:]) for d in os.listdir(runs_dir) if re.fullmatch(r"run_[1-9][0-9]*", d))
    require(numbers, f"{runs_dir}: no run_<r> folders")
    runs = []
    for number in numbers:
        run_dir = os.path.join(runs_dir, f"run_{number}")
        index_path = os.path.join(run_dir, "index.json")
        require(os.path.exists(index_path), f"{run_dir}: no index.json")
        records = json.load(open(index_path))["snapshots"]
        require(records, f"{index_path} lists no snapshots")
        vectors, states, metadatas = [], [], []
        for record in records:
            path = os.path.join(run_dir, record["file"])
            state, flat, metadata = read_snapshot(path)
            check_snapshot_metadata(path, metadata, record)
            require(metadata_number(path, metadata, "run", int) == number,
                    f"{path}: metadata run={metadata['run']} inside run_{number}")
            vectors.append(flat)
            states.append(state)
            metadatas.append(metadata)
        runs.append({"dir": run_dir, "records": records, "x": np.stack(vectors), "states": states,
                     "metadata": metadatas})
    return runs


def check_pca(path, pca, train):
    """pca.safetensors against the train snapshots it was fitted on (train: [n, d] float32)."""
    tensors, metadata = pca
    require(metadata.get("format") == "twp-pca", f"{path}: metadata format is not twp-pca")
    names = {name: (str(t.dtype), list(t.shape)) for name, t in tensors.items()}
    n, d = train.shape
    k = tensors["basis"].shape[0] if "basis" in tensors else -1
    expected = {"mean": ("float32", [d]), "basis": ("float32", [k, d]),
                "explained_variance": ("float64", [k]), "explained_variance_ratio": ("float64", [k])}
    require(names == expected, f"{path}: tensors {names}, expected {expected} for {d}-wide snapshots")
    require(1 <= k <= min(n, d), f"{path}: {k} components from {n} samples")
    require(metadata_number(path, metadata, "samples", int) == n,
            f"{path}: fitted on {metadata['samples']} samples, the snapshots' train part has {n}")
    basis = tensors["basis"].astype(np.float64)   # [k, d]
    mean = tensors["mean"].astype(np.float64)     # [d]
    variance, ratio = tensors["explained_variance"], tensors["explained_variance_ratio"]

    gram_error = np.abs(basis @ basis.T - np.eye(k)).max()
    require(gram_error <= 1e-6, f"{path}: components are not orthonormal (|B Bᵀ - I| up to {gram_error:.3g})")
    x = train.astype(np.float64)
    mean_error = np.abs(x.mean(axis=0) - mean).max()
    require(mean_error <= 1e-6 * max(1.0, np.abs(mean).max()),
            f"{path}: mean differs from the train snapshots' column mean by up to {mean_error:.3g}")
    centered = x - mean
    scores = centered @ basis.T                                   # [n, k]
    derived = (scores ** 2).sum(axis=0) / (n - 1)
    total = (centered ** 2).sum() / (n - 1)
    worst = np.abs(derived - variance).max()
    require(worst <= 1e-6 * variance.max(),
            f"{path}: explained_variance {variance.tolist()}, the train snapshots' variance along the "
            f"components is {derived.tolist()}")
    require(np.all(np.diff(variance) <= 1e-12 * variance.max()), f"{path}: explained_variance is not decreasing")
    require(np.abs(ratio - variance / total).max() <= 1e-6,
            f"{path}: explained_variance_ratio {ratio.tolist()} is not explained_variance / total "
            f"variance {total:.6g}")
    # What the round trip through the PCA loses is the variance the components leave out.
    reconstructed = scores @ basis + mean
    lost = ((x - reconstructed) ** 2).sum() / (n - 1)
    require(abs(lost - (total - variance.sum())) <= 1e-5 * total,
            f"{path}: the round trip loses variance {lost:.6g}, the components leave out "
            f"{total - variance.sum():.6g}")
    if k >= n - 1:  # the centered train data has rank n - 1: the round trip must be exact
        error = np.abs(x - reconstructed).max()
        require(error <= 1e-5, f"{path}: {k} components for rank {n - 1}, yet the round trip of a train "
                               f"snapshot is off by {error:.3g}")
    return mean, basis, variance, ratio


def check_results_pca(path, basis, ratio, samples, results):
    recorded = results.get("pca", {})
    require(recorded.get("components") == len(basis) and recorded.get("fit_samples") == samples and
            np.allclose(recorded.get("explained_variance_ratio"), ratio, rtol=1e-12, atol=0),
            f"results.json's pca section {recorded} does not describe {path}")


def predictor_layout(d, layers, feedforward):
    """The predictor's state_dict (experiment/transformer.cpp make_layout): {name: shape}."""
    layout = {}
    for layer in range(layers):
        p = f"transformer_encoder.layers.{layer}."
        layout.update({p + "self_attn.in_proj_weight": [3 * d, d], p + "self_attn.in_proj_bias": [3 * d],
                       p + "self_attn.out_proj.weight": [d, d], p + "self_attn.out_proj.bias": [d],
                       p + "linear1.weight": [feedforward, d], p + "linear1.bias": [feedforward],
                       p + "linear2.weight": [d, feedforward], p + "linear2.bias": [d],
                       p + "norm1.weight": [d], p + "norm1.bias": [d],
                       p + "norm2.weight": [d], p + "norm2.bias": [d]})
    layout.update({"output_projection.weight": [d, d], "output_projection.bias": [d]})
    return layout


def check_predictor(path, predictor, components, raw_dim, results):
    """Every tensor's name and shape from the metadata; returns the configuration."""
    tensors, metadata = predictor
    require(metadata.get("format") == "twp-transformer-predictor/1",
            f"{path}: metadata format {metadata.get('format')!r} is not twp-transformer-predictor/1")
    config = {key: metadata_number(path, metadata, key, int)
              for key in ("input_dim", "nhead", "num_layers", "dim_feedforward", "sequence_length", "raw_dim")}
    config["target"], config["standardize"] = metadata.get("target"), metadata.get("standardize")
    d, heads = config["input_dim"], config["nhead"]
    require(d >= 1 and heads >= 1 and d % heads == 0, f"{path}: input_dim {d} is not a multiple of nhead {heads}")
    require(config["target"] in ("next", "delta") and config["standardize"] in ("true", "false"),
            f"{path}: metadata target={config['target']!r} standardize={config['standardize']!r}")
    expected = predictor_layout(d, config["num_layers"], config["dim_feedforward"])
    if config["standardize"] == "true":
        expected.update({"twp.standardize.mean": [d], "twp.standardize.scale": [d]})
    found = {name: list(t.shape) for name, t in tensors.items()}
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(name for name in expected if name in found and found[name] != expected[name])
    require(not missing and not extra and not wrong,
            f"{path}: tensors do not match the metadata (input_dim {d}, num_layers {config['num_layers']}, "
            f"dim_feedforward {config['dim_feedforward']}): missing {missing[:3]}, unexpected {extra[:3]}, "
            f"wrong shape {[(n, found[n], expected[n]) for n in wrong[:3]]}")
    require(all(t.dtype == np.float32 for t in tensors.values()), f"{path}: tensors are not all F32")
    require(metadata.get("pca") == "pca.safetensors", f"{path}: metadata pca={metadata.get('pca')!r}, "
                                                      "this check needs a predictor trained with --apply_pca")
    require(components == d, f"{path}: input_dim {d}, the pca.safetensors beside it has {components} components")
    require(config["raw_dim"] == raw_dim, f"{path}: raw_dim {config['raw_dim']}, the snapshots have {raw_dim}")
    if results is not None:
        recorded = results.get("predictors", {}).get(metadata.get("forecaster", "seed"), {})
        for key in ("input_dim", "nhead", "num_layers", "dim_feedforward", "sequence_length", "target"):
            require(recorded.get(key) == config[key],
                    f"{path}: metadata {key}={config[key]}, results.json's predictor says {recorded.get(key)}")
    return config


def layer_norm(x, weight, bias, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * weight + bias


def positional_encoding(length, d):
    """The reference's sinusoidal encoding [length, d], in float32 as it computes it."""
    pe = np.zeros((length, d), np.float32)
    position = np.arange(length, dtype=np.float32)[:, None]
    div = np.exp(np.arange(0, d, 2, dtype=np.float32) * np.float32(-math.log(10000.0) / d))
    pe[:, 0::2] = np.sin(position * div)
    pe[:, 1::2] = np.cos(position * div)[:, :d // 2]
    return pe


def encoder_forward(w, config, x):
    """nn.TransformerEncoder (post-norm, ReLU, batch_first, eval) then Linear(D, D) on the last
    position; x [B, S, D] in model space -> [B, D]. In float64."""
    b, s, d = x.shape
    heads = config["nhead"]
    dh = d // heads
    w = {name: t.astype(np.float64) for name, t in w.items()}
    h = x + positional_encoding(s, d)
    for layer in range(config["num_layers"]):
        p = f"transformer_encoder.layers.{layer}."
        qkv = h @ w[p + "self_attn.in_proj_weight"].T + w[p + "self_attn.in_proj_bias"]   # [B, S, 3D]
        q, k, v = (qkv[..., i * d:(i + 1) * d].reshape(b, s, heads, dh).transpose(0, 2, 1, 3) for i in range(3))
        logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh)                               # [B, H, S, S]
        probs = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        attention = (probs @ v).transpose(0, 2, 1, 3).reshape(b, s, d)
        attention = attention @ w[p + "self_attn.out_proj.weight"].T + w[p + "self_attn.out_proj.bias"]
        h = layer_norm(h + attention, w[p + "norm1.weight"], w[p + "norm1.bias"])
        hidden = np.maximum(h @ w[p + "linear1.weight"].T + w[p + "linear1.bias"], 0)
        h = layer_norm(h + hidden @ w[p + "linear2.weight"].T + w[p + "linear2.bias"],
                       w[p + "norm2.weight"], w[p + "norm2.bias"])
    return h[:, -1] @ w["output_projection.weight"].T + w["output_projection.bias"]


def check_standardization(path, tensors, train_scores):
    """twp.standardize.* must be the train scores' mean and population std, floored at 1% of the
    largest std (experiment/feature_space.hpp kStandardizeFloor; 1 where all are constant)."""
    mean, std = train_scores.mean(axis=0), train_scores.std(axis=0)
    floor = 0.01 * std.max() if std.max() > 0 else 1.0
    scale = np.maximum(std, floor)
    # The scores' mean is 0 up to rounding: compare it on the scale of their spread.
    require(np.allclose(tensors["twp.standardize.mean"], mean, rtol=0, atol=1e-6 * scale.max()) and
            np.allclose(tensors["twp.standardize.scale"], scale, rtol=1e-4, atol=0),
            f"{path}: twp.standardize.mean/scale {tensors['twp.standardize.mean'].tolist()} / "
            f"{tensors['twp.standardize.scale'].tolist()} are not the train scores' {mean.tolist()} / {scale.tolist()}")


def check_direct_prediction(path, weights, config, runs, splits, mean, basis, results):
    """results.json's direct prediction MSEs, recomputed over every run's test windows."""
    k, d = config["sequence_length"], config["input_dim"]
    standardize = config["standardize"] == "true"
    sums = {m: [0.0, 0.0] for m in ("seed", "last_value", "linear")}
    windows = 0
    for run, split in zip(runs, splits):
        x = run["x"].astype(np.float64)
        scores = ((x - mean) @ basis.T).astype(np.float32).astype(np.float64)  # twp keeps scores in float
        firsts = list(range(split, len(x) - k))
        if not firsts:
            continue
        inputs = np.stack([scores[f:f + k] for f in firsts])                      # [W, k, D]
        model = inputs
        if standardize:
            model = (inputs - weights["twp.standardize.mean"]) / weights["twp.standardize.scale"]
        out = encoder_forward(weights, config, model)
        if config["target"] == "delta":
            out = out + model[:, -1]
        if standardize:
            out = out * weights["twp.standardize.scale"] + weights["twp.standardize.mean"]
        for i, f in enumerate(firsts):
            t = f + k - 1
            previous = t - 1 if t > 0 else t
            predictions = {"seed": out[i], "last_value": scores[t],
                           "linear": 2 * scores[t] - scores[previous]}
            for method, prediction in predictions.items():
                raw = prediction @ basis + mean if method == "seed" else \
                    (x[t] if method == "last_value" else 2 * x[t] - x[previous])
                sums[method][0] += float(((prediction - scores[t + 1]) ** 2).mean())
                sums[method][1] += float(((raw - x[t + 1]) ** 2).mean())
        windows += len(firsts)
    recorded = results.get("direct_prediction", {})
    require(recorded.get("windows") == windows,
            f"results.json: direct_prediction over {recorded.get('windows')} windows, the snapshots give {windows}")
    # Measured on the CPU: 1e-8 or less; the transformer's float32 in twp against float64 here: 3e-9.
    tolerance = {"seed": 1e-4, "last_value": 1e-5, "linear": 1e-5}
    lines = []
    for method, (pca_sum, weight_sum) in sums.items():
        for space, total in (("pca_mse", pca_sum), ("weight_mse", weight_sum)):
            twp_value = recorded.get(method, {}).get(space)
            require(twp_value is not None, f"results.json: no direct_prediction.{method}.{space}")
            require(close(total / windows, twp_value, tolerance[method], 1e-12),
                    f"{path}: direct prediction {method} {space}: numpy computes {total / windows:.9g}, "
                    f"results.json says {twp_value:.9g}")
        lines.append(f"{method} {sums[method][0] / windows:.6g}")
    return windows, lines


def check_experiment(experiment, mnist_dir, snapshot_dir=None, test_set=None):
    experiment = resolve_experiment(experiment)
    config = read_config(experiment)
    require(config["apply_pca"] == "true", f"{experiment}: a run without --apply_pca (this check reads the PCA)")
    snapshot_dir = snapshot_dir or config["snapshot_dir"]
    results_path = os.path.join(experiment, "results.json")
    require(os.path.exists(results_path), f"{experiment}: no results.json")
    results = json.load(open(results_path))

    runs = load_runs(snapshot_dir)
    test_set = test_set if test_set is not None else mnist_test_set(mnist_dir)
    scored = 0
    for run in runs:
        for i in sorted({0, len(run["records"]) - 1}):
            path = os.path.join(run["dir"], run["records"][i]["file"])
            check_snapshot_scores(path, run["states"][i], run["metadata"][i], test_set)
            scored += 1
    train_split = float(config["train_split"])
    splits = [int(math.floor(len(run["x"]) * train_split)) for run in runs]
    train = np.concatenate([run["x"][:split] for run, split in zip(runs, splits)])

    models = os.path.join(experiment, "models")
    pca_path = os.path.join(models, "pca.safetensors")
    pca = read_safetensors(pca_path)
    mean, basis, variance, ratio = check_pca(pca_path, pca, train)
    train_scores = ((train.astype(np.float64) - mean) @ basis.T).astype(np.float32).astype(np.float64)

    checked = {}
    # seed (the reference's transformer) is recomputed whole; every model file's shapes are checked.
    names = [n for n in ("seed_best", "seed_last", "transformer_best", "transformer_last")
             if os.path.exists(os.path.join(models, n + ".safetensors"))]
    require("seed_best" in names, f"{models}: no seed_best.safetensors (run with seed among --forecasters)")
    for name in names:
        path = os.path.join(models, name + ".safetensors")
        predictor = read_safetensors(path)
        predictor_config = check_predictor(path, predictor, basis.shape[0], LENET5_SIZE,
                                           results if name.endswith("_best") else None)
        if predictor_config["standardize"] == "true":
            check_standardization(path, predictor[0], train_scores)
        checked[name] = (path, predictor[0], predictor_config)
    check_results_pca(pca_path, basis, ratio, len(train), results)
    # results.json's evaluation is the best checkpoint's.
    path, weights, predictor_config = checked["seed_best"]
    windows, lines = check_direct_prediction(path, weights, predictor_config, runs, splits, mean, basis, results)
    snapshots = sum(len(run["records"]) for run in runs)
    print(f"{experiment}: {snapshots} snapshots in {len(runs)} run(s) read ({scored} scored on the test set "
          f"as twp recorded); PCA {basis.shape[0]} x {basis.shape[1]} orthonormal, mean and explained "
          f"variance {np.round(variance, 6).tolist()} re-derived from {len(train)} train snapshots; "
          f"predictors' tensors match their metadata ({predictor_config['num_layers']} layers, width "
          f"{predictor_config['input_dim']}, {predictor_config['nhead']} heads, feed-forward "
          f"{predictor_config['dim_feedforward']}); direct prediction PCA MSE over {windows} windows as in "
          f"results.json: {', '.join(lines)}")


# ---- the self test: corrupted copies must fail ----

def self_test(experiment, mnist_dir, snapshot_dir=None):
    """Runs the experiment check on a good copy, then on copies with one fault each."""
    experiment = resolve_experiment(experiment)
    config = read_config(experiment)
    snapshot_dir = snapshot_dir or config["snapshot_dir"]
    test_set = mnist_test_set(mnist_dir)
    work = tempfile.mkdtemp(prefix="twp_numpy_selftest_")
    try:
        def fresh_copy():
            shutil.rmtree(os.path.join(work, "experiment"), ignore_errors=True)
            shutil.rmtree(os.path.join(work, "snapshots"), ignore_errors=True)
            shutil.copytree(experiment, os.path.join(work, "experiment"))
            shutil.copytree(os.path.join(snapshot_dir, "training_runs"), os.path.join(work, "snapshots", "training_runs"))
            return os.path.join(work, "experiment"), os.path.join(work, "snapshots")

        exp, snaps = fresh_copy()
        run_dir = os.path.join(snaps, "training_runs", "run_1")
        records = json.load(open(os.path.join(run_dir, "index.json")))["snapshots"]
        first, last = (os.path.join(run_dir, records[i]["file"]) for i in (0, -1))
        models = os.path.join(exp, "models")

        def flip_data_byte(path):
            raw = bytearray(open(path, "rb").read())
            raw[len(raw) - 100] ^= 0x40
            open(path, "wb").write(bytes(raw))

        def swap_weights(path, other):  # the other snapshot's weights, this one's metadata, valid crc
            write_safetensors(path, read_safetensors(other)[0], read_safetensors(path)[1])

        def truncate(path):
            raw = open(path, "rb").read()
            open(path, "wb").write(raw[:len(raw) // 2])

        def shift_mean(path):
            tensors, metadata = read_safetensors(path)
            write_safetensors(path, dict(tensors, mean=tensors["mean"] + np.float32(1e-3)), metadata)

        def swap_components(path):
            tensors, metadata = read_safetensors(path)
            write_safetensors(path, dict(tensors, basis=tensors["basis"][::-1].copy()), metadata)

        def drop_component(path):  # still a consistent PCA, of one component fewer
            tensors, metadata = read_safetensors(path)
            write_safetensors(path, {name: t[:-1].copy() if name != "mean" else t for name, t in tensors.items()},
                              metadata)

        def shift_output_bias(path):
            tensors, metadata = read_safetensors(path)
            bias = tensors["output_projection.bias"] + np.float32(0.1)
            write_safetensors(path, dict(tensors, **{"output_projection.bias": bias}), metadata)

        def claim_more_layers(path):  # the header is outside the checksum: only the shapes tell
            tensors, metadata = read_safetensors(path)
            metadata["num_layers"] = str(int(metadata["num_layers"]) + 1)
            write_safetensors(path, tensors, metadata)

        faults = [("a flipped byte in a snapshot's data", flip_data_byte, [last], "checksum mismatch"),
                  ("another snapshot's weights under a valid checksum", swap_weights, [last, first],
                   "numpy measures accuracy"),
                  ("a truncated snapshot", truncate, [first], "do not fit"),
                  ("a PCA mean shifted by 1e-3", shift_mean, [os.path.join(models, "pca.safetensors")],
                   "column mean"),
                  ("PCA components in reversed order", swap_components, [os.path.join(models, "pca.safetensors")],
                   "explained_variance"),
                  ("a PCA of one component fewer than the predictor's width", drop_component,
                   [os.path.join(models, "pca.safetensors")], "the pca.safetensors beside it has"),
                  ("a predictor whose metadata claims one more layer", claim_more_layers,
                   [os.path.join(models, "seed_best.safetensors")], "do not match the metadata"),
                  ("a predictor's output bias shifted under a valid checksum", shift_output_bias,
                   [os.path.join(models, "seed_best.safetensors")], "direct prediction seed")]
        check_experiment(exp, mnist_dir, snaps, test_set)
        for what, corrupt, arguments, expected in faults:
            exp, snaps = fresh_copy()
            corrupt(*arguments)
            try:
                check_experiment(exp, mnist_dir, snaps, test_set)
            except CheckError as error:
                require(expected in str(error), f"self test: {what}: failed, but not with '{expected}': {error}")
                print(f"self test: {what}: refused: {error}")
                continue
            raise CheckError(f"self test: {what}: the check passed a corrupted file")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"self test: all {len(faults)} corrupted copies refused")


def main(argv):
    if len(argv) == 3 and argv[0] == "snapshot":
        check_snapshot(argv[1], argv[2])
    elif len(argv) in (3, 4) and argv[0] == "experiment":
        check_experiment(*argv[1:])
    elif len(argv) in (3, 4) and argv[0] == "selftest":
        self_test(*argv[1:])
    else:
        print("usage: " + __doc__.split("usage: ")[1].strip(), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (CheckError, OSError, ValueError) as error:
        print(f"check_files_numpy: FAILED: {error}")
        sys.exit(1)
    except KeyError as error:
        print(f"check_files_numpy: FAILED: a file lacks the entry {error} (not written by this twp?)")
        sys.exit(1)
