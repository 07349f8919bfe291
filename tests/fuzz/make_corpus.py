#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/.

The seeds are small valid files and near misses of each format, so that libFuzzer starts next to
every check instead of having to discover the formats from nothing. Run it again after changing
it; the output is deterministic (gzip without a timestamp). Everything stays far below 100 KB.
"""
import gzip
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_images(count, rows, cols, pixels):
    return struct.pack(">IIII", 0x00000803, count, rows, cols) + bytes(pixels)


def idx_labels(labels):
    return struct.pack(">II", 0x00000801, len(labels)) + bytes(labels)


def idx_corpus():
    pixels = [(i * 37 + 11) % 256 for i in range(3 * 4 * 5)]
    images = idx_images(3, 4, 5, pixels)
    labels = idx_labels([0, 9, 5, 3])
    write("fuzz_idx", "images_3x4x5", images)
    write("fuzz_idx", "labels_4", labels)
    write("fuzz_idx", "images_3x4x5.gz", gz(images))
    write("fuzz_idx", "labels_4.gz", gz(labels))
    write("fuzz_idx", "image_1x28x28", idx_images(1, 28, 28, [(i * 7) % 256 for i in range(784)]))
    # Two gzip members back to back, as `cat a.gz b.gz` makes.
    write("fuzz_idx", "images_two_members.gz", gz(images[:30]) + gz(images[30:]))
    # Near misses: one byte short, one byte long, a label out of range, a truncated header, a cut
    # gzip stream, garbage after a gzip stream, a header claiming far more than is there.
    write("fuzz_idx", "images_short", images[:-1])
    write("fuzz_idx", "labels_long", labels + b"\x00")
    write("fuzz_idx", "labels_bad_class", idx_labels([1, 10]))
    write("fuzz_idx", "header_truncated", images[:12])
    write("fuzz_idx", "images_cut.gz", gz(images)[:-6])
    write("fuzz_idx", "labels_junk_after.gz", gz(labels) + b"junk")
    write("fuzz_idx", "images_huge_claim", idx_images(0xFFFFFFFF, 4096, 4096, pixels[:8]))


def safetensors(tensors, metadata=None, pad=True):
    """tensors: list of (name, dtype, shape, raw bytes), packed in order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    offset = 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in tensors)


def safetensors_corpus():
    f32 = struct.pack("<6f", 0.5, -1.0, 2.25, 3.0, -0.125, 1e-3)
    i64 = struct.pack("<2q", 7, -9)
    valid = safetensors(
        [("conv1.weight", "F32", [2, 3], f32), ("step", "I64", [2], i64)],
        {"epoch": "1", "accuracy": "0.97"})
    write("fuzz_safetensors", "two_tensors_metadata", valid)
    write("fuzz_safetensors", "all_dtypes", safetensors([
        ("a", "F64", [], struct.pack("<d", 3.5)),
        ("b", "I32", [1, 2], struct.pack("<2i", -1, 2)),
        ("c", "U8", [3], b"\x00\x7f\xff"),
        ("d", "F32", [0, 4], b""),
    ]))
    write("fuzz_safetensors", "empty_header", safetensors([]))
    write("fuzz_safetensors", "unpadded", safetensors([("x", "F32", [1], f32[:4])], pad=False))
    # Near misses: a truncated buffer, an unsupported dtype, overlapping tensors, a header length
    # past the end.
    write("fuzz_safetensors", "truncated", valid[:-3])
    write("fuzz_safetensors", "bf16", safetensors([("h", "BF16", [2], b"\x00\x3f\x00\x40")]))
    text = b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},' \
           b'"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}'
    write("fuzz_safetensors", "overlap", struct.pack("<Q", len(text)) + text + b"abc")
    write("fuzz_safetensors", "header_past_end", struct.pack("<Q", 1000) + b"{}")
    # Nesting past the decoder's 128-level limit (deep nesting once overflowed the stack).
    deep = b'{"x":{"dtype":"U8","shape":' + b"[" * 300 + b"]" * 300 + b',"data_offsets":[0,0]}}'
    write("fuzz_safetensors", "deep_nesting", struct.pack("<Q", len(deep)) + deep)


def args_corpus():
    lines = {
        "train_base": ["--mode", "train_base", "--training_epochs", "1", "--num_runs", "1",
                       "--snapshots_per_epoch", "2", "--snapshot_dir", "/tmp/snapshots"],
        "full_pca": ["--apply_pca", "--n_components=50", "--predictor_epochs", "3",
                     "--extrapolation_steps=2", "--sequence_length", "4", "--batch_size", "8"],
        "reals": ["--train_split=0.7", "--learning_rate", "1e-3", "--dropout", "0.2"],
        "encoder": ["--num_layers", "2", "--nhead", "4", "--dim_feedforward", "64",
                    "--target=delta", "--standardize", "--max_width", "100000"],
        "data": ["--dataset", "fashion-mnist", "--data_dir", "data/fashion-mnist", "--no_cuda",
                 "--threads", "2", "--random_seed", "18446744073709551615"],
        "evaluate": ["--mode=evaluate", "--model_path", "results/models/predictor_best.safetensors",
                     "--results_dir", "out"],
        "legacy": ["--train_base", "--base_epochs", "2", "--saves_per_epoch", "3",
                   "--snapshot_frequency=4"],
        "help": ["--help"],
        "bad_count": ["--num_runs", "0"],
        "bad_split": ["--train_split", "1.5"],
        "missing_value": ["--mode"],
        "unknown": ["--bogus", "x"],
    }
    for name, words in lines.items():
        write("fuzz_args", name, "\n".join(words).encode())
    write("fuzz_args", "nul_separated", b"\0".join([b"--mode", b"extrapolate", b"--nhead", b"8"]))


if __name__ == "__main__":
    idx_corpus()
    safetensors_corpus()
    args_corpus()
