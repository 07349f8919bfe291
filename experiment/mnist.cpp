// Loads MNIST / Fashion-MNIST from IDX files into normalized float images and int32 labels (see
// mnist.hpp for layouts). File lookup prefers the raw file over its .gz twin, so a user who
// decompressed the files by hand gets the fast path; the IDX reader detects gzip by content, not
// by name, either way. All missing files are reported at once, with the command that fetches them.
#include "experiment/mnist.hpp"

#include <array>
#include <cmath>
#include <filesystem>
#include <ranges>
#include <system_error>

#include "engine/error.hpp"
#include "engine/idx.hpp"

namespace twp {
namespace {

namespace fs = std::filesystem;

struct DatasetInfo {
    const char* name;
    float mean, std_dev;
};

constexpr DatasetInfo known_datasets[] = {
    {"mnist", mnist_mean, mnist_std},
    {"fashion-mnist", fashion_mnist_mean, fashion_mnist_std},
};

// Returns the raw file if it exists, else the .gz one, else "" after adding the raw path to
// `missing`.
std::string find_idx_file(const fs::path& dir, const std::string& base,
                          std::vector<std::string>& missing) {
    for (const fs::path& candidate : {dir / base, dir / (base + ".gz")}) {
        std::error_code ec;
        const bool exists = fs::exists(candidate, ec);
        if (ec) {
            TWP_FAIL("cannot check whether data file '" << candidate.string()
                                                        << "' exists: " << ec.message());
        }
        if (exists) return candidate.string();
    }
    missing.push_back((dir / base).string());
    return "";
}

}  // namespace

ImageSet load_image_set(const std::string& images_path, const std::string& labels_path,
                        float mean, float std_dev) {
    TWP_CHECK(std::isfinite(mean) && std::isfinite(std_dev) && std_dev > 0.0f,
              "normalization for '" << images_path << "' needs a finite mean and a positive std, "
                                    << "got mean " << mean << " std " << std_dev);
    const IdxImages images = read_idx_images(images_path);
    const std::vector<uint8_t> labels = read_idx_labels(labels_path);
    if (int64_t(labels.size()) != images.count) {
        TWP_FAIL("images file '" << images_path << "' has " << images.count
                                 << " images but labels file '" << labels_path << "' has "
                                 << labels.size()
                                 << " labels; they must be a matching pair (train with train, "
                                    "t10k with t10k, same dataset)");
    }

    // 256 possible pixel values: normalize through a table, computed with the exact expression
    // the rest of the project (and the reference) uses, so results match bit for bit.
    std::array<float, 256> normalized{};
    for (int x = 0; x < 256; ++x) normalized[x] = (float(x) / 255.0f - mean) / std_dev;

    ImageSet set;
    set.count = images.count;
    set.rows = images.rows;
    set.cols = images.cols;
    // One pass that allocates and writes (no zero fill first: 188 MB for MNIST's training set).
    const auto normalize = std::views::transform(images.pixels, [&](uint8_t x) { return normalized[x]; });
    set.pixels.assign(normalize.begin(), normalize.end());
    set.labels.assign(labels.begin(), labels.end());
    return set;
}

Dataset load_dataset(const std::string& data_dir, const std::string& dataset) {
    const DatasetInfo* info = nullptr;
    for (const DatasetInfo& known : known_datasets) {
        if (dataset == known.name) info = &known;
    }
    if (info == nullptr) {
        std::string valid;
        for (const DatasetInfo& known : known_datasets) {
            valid += (valid.empty() ? "" : ", ") + std::string(known.name);
        }
        TWP_FAIL("unknown dataset '" << dataset << "' (data dir '" << data_dir
                                     << "'); valid datasets are: " << valid);
    }

    const fs::path dir(data_dir);
    std::vector<std::string> missing;
    const std::string train_images = find_idx_file(dir, "train-images-idx3-ubyte", missing);
    const std::string train_labels = find_idx_file(dir, "train-labels-idx1-ubyte", missing);
    const std::string test_images = find_idx_file(dir, "t10k-images-idx3-ubyte", missing);
    const std::string test_labels = find_idx_file(dir, "t10k-labels-idx1-ubyte", missing);
    if (!missing.empty()) {
        std::string list;
        for (const std::string& path : missing) list += "\n  " + path + " (or " + path + ".gz)";
        std::error_code ec;
        const bool dir_exists = fs::is_directory(dir, ec);
        // Mention --data-dir only when it differs from the script's default, to keep the usual
        // command short.
        const bool default_dir =
            dir.lexically_normal() == (fs::path("data") / info->name).lexically_normal();
        TWP_FAIL("dataset '" << dataset << "': " << missing.size() << " of 4 data files missing"
                             << (dir_exists ? "" : " (the directory '" + data_dir +
                                                       "' does not exist)")
                             << ":" << list << "\nFetch them with: tools/fetch-data.sh --dataset "
                             << dataset << (default_dir ? "" : " --data-dir " + data_dir));
    }

    Dataset result;
    result.name = dataset;
    result.mean = info->mean;
    result.std = info->std_dev;
    result.train = load_image_set(train_images, train_labels, info->mean, info->std_dev);
    result.test = load_image_set(test_images, test_labels, info->mean, info->std_dev);
    if (result.train.rows != result.test.rows || result.train.cols != result.test.cols) {
        TWP_FAIL("dataset '" << dataset << "': training images in '" << train_images << "' are "
                             << result.train.rows << " x " << result.train.cols
                             << " but test images in '" << test_images << "' are "
                             << result.test.rows << " x " << result.test.cols
                             << "; both sets must have the same image size");
    }
    return result;
}

}  // namespace twp
