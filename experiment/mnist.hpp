// The image-classification datasets the base training uses: MNIST and Fashion-MNIST, read from
// IDX files (raw or .gz) and normalized once at load time the way torchvision examples do:
// x = (pixel / 255 - mean) / std, with the training set's pixel mean and standard deviation.
// Layout: pixels are NCHW, [count, 1, rows, cols] row-major, one channel. Labels are class
// indices 0..9. Files are fetched by tools/fetch-data.sh; a missing file is an error that says so.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace twp {

// Per-dataset normalization, the mean and standard deviation of all training pixels scaled to
// [0, 1]. MNIST: the values of the PyTorch MNIST example (0.1307, 0.3081). Fashion-MNIST: the same
// statistics computed on its training set (0.2860, 0.3530), as commonly used with torchvision.
inline constexpr float mnist_mean = 0.1307f;
inline constexpr float mnist_std = 0.3081f;
inline constexpr float fashion_mnist_mean = 0.2860f;
inline constexpr float fashion_mnist_std = 0.3530f;

struct ImageSet {
    int64_t count = 0;            // number of images
    int rows = 0, cols = 0;       // image height, width
    std::vector<float> pixels;    // [count, 1, rows, cols], normalized: (x/255 - mean) / std
    std::vector<int32_t> labels;  // [count], 0..9
};

struct Dataset {
    std::string name;          // "mnist" or "fashion-mnist"
    ImageSet train, test;      // same rows and cols
    float mean = 0.0f;         // normalization used for both sets
    float std = 0.0f;
};

// dataset: "mnist" or "fashion-mnist". Files looked up in data_dir as
// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte,
// each either raw or with a .gz suffix (raw preferred if both). The usual data_dir is
// data/<dataset>, where tools/fetch-data.sh puts them.
Dataset load_dataset(const std::string& data_dir, const std::string& dataset);

// Reads one images file and its labels file, checks they have the same count, and normalizes.
// Precondition: std_dev > 0.
ImageSet load_image_set(const std::string& images_path, const std::string& labels_path,
                        float mean, float std_dev);

}  // namespace twp
