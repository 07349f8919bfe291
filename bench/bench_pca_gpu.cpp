// PCA fit on the CUDA backend (engine/cuda_pca_solver.hpp: Gram matrix by cublasDsyrk in double,
// cusolverDnDsyevd, components by cublasDgemm) on LeNet-5-sized snapshots (d = 61,706), against
// the CPU fit of the same data, and optionally against cusolverDnDgesvd straight on the centered
// d x n column-major data: the measurement behind the choice of method (kernels/README.md).
//
// Data: bench/bench_pca.cpp's seeded random walk (a 1/i² spectrum, so small components exist).
// For each n of --sizes, k = min(--components, n):
// - the device fit, warmed up once at n = 50, then timed (median of 3, or once beyond 10 s) with
//   its stages: upload, means, center + Gram, eigensolver, components, download, and the host's
//   share (rank cut, orthonormality check and repair, sign rule); FLOPs per stage (Gram n²d,
//   eigensolver ~9n³ (an estimate: tridiagonal reduction, divide and conquer, back
//   transformation), components 2·k·n·d) and the fraction of the chip's limits (--peak_tflops
//   FP64, --peak_tbps memory: H200 defaults 67 TFLOP/s, 4.8 TB/s);
// - unless --no-cpu: the CPU fit (engine/pca.cpp) of the same data, its time, and the agreement:
//   sin of the largest principal angle between the two k-dimensional subspaces (over the
//   components with variance), worst 1 - cos of an axis, sign disagreements, worst relative
//   error of an explained variance;
// - with --compare-gesvd: upload, centering of the whole matrix in double, cusolverDnDgesvd
//   (jobu 'S', jobvt 'N') of the d x n column-major view, and the same accuracy figures against
//   the CPU fit (or the device fit with --no-cpu). Skipped at a size where the previous size's
//   time scaled by (n / n_previous)² predicts more than --time-limit seconds.
// Prints one JSON object. bench/run_bench_pca_gpu.sh runs it beside PyTorch on the same GPU.
//   usage: bench_pca_gpu [--sizes 200,1000,4000] [--components 500] [--dim 61706] [--device N]
//                        [--no-cpu] [--compare-gesvd] [--time-limit 120]
//                        [--peak_tflops 67] [--peak_tbps 4.8]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/cuda_backend.hpp"
#include "engine/cuda_pca_solver.hpp"
#include "engine/error.hpp"
#include "engine/pca.hpp"
#include "engine/random.hpp"
#include "bench/pca_inputs.hpp"
#include "engine/subspace.hpp"
#include "kernels/device_memory.hpp"
#include "kernels/eigen.cuh"
#include "kernels/pca.cuh"

using namespace twp;

namespace {

double seconds_of(const std::function<void()>& run) {
    const auto start = std::chrono::steady_clock::now();
    run();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The principal axes and explained variances of some method, for the accuracy comparison.
struct Axes {
    std::vector<float> vectors;    // [count, d], unit rows
    std::vector<double> variance;  // [count]
};

Axes model_axes(const PcaModel& model) {
    return {model.basis, model.explained_variance};
}

// Agreement of `axes` with `reference` over the first `count` components (those with variance).
struct Accuracy {
    double principal_sine = 0, worst_axis = 0, worst_variance = 0;
    int64_t sign_disagreements = 0;
};

Accuracy accuracy(const Axes& axes, const Axes& reference, int64_t count, int64_t d, bool signs_fixed) {
    Accuracy result;
    if (count == 0) return result;
    result.principal_sine = largest_principal_sine(axes.vectors.data(), reference.vectors.data(), count, d);
    for (int64_t i = 0; i < count; ++i) {
        double dot = 0;
        for (int64_t j = 0; j < d; ++j) dot += double(axes.vectors[i * d + j]) * reference.vectors[i * d + j];
        if (signs_fixed && dot < 0) ++result.sign_disagreements;
        result.worst_axis = std::max(result.worst_axis, 1 - std::abs(dot));
        result.worst_variance = std::max(result.worst_variance, std::abs(axes.variance[i] - reference.variance[i]) /
                                                                    reference.variance[i]);
    }
    return result;
}

std::string accuracy_json(const Accuracy& a) {
    char text[256];
    std::snprintf(text, sizeof text,
                  "{\"sin_largest_principal_angle\": %.3e, \"worst_axis_1_minus_cos\": %.3e, "
                  "\"sign_disagreements\": %lld, \"worst_variance_rel_error\": %.3e}",
                  a.principal_sine, a.worst_axis, (long long)a.sign_disagreements, a.worst_variance);
    return text;
}

// cusolverDnDgesvd on the centered data: seconds of upload, centering (whole matrix, double) and
// the SVD; axes = the first `count` left singular vectors of the column-major Xcᵀ [d, n].
Axes gesvd_axes(CudaBackend& backend, const std::vector<float>& x, int64_t n, int64_t d, int64_t count,
                double& upload_seconds, double& center_seconds, double& svd_seconds) {
    kernels::Stream stream = backend.stream();
    kernels::DeviceArray<float> device_x(n * d);
    kernels::DeviceArray<double> mean(d), centered(n * d), singular(n), u(n * d);
    upload_seconds = seconds_of([&] {
        kernels::copy_to_device(device_x.data(), x.data(), device_x.bytes(), stream);
        kernels::synchronize(stream);
    });
    center_seconds = seconds_of([&] {
        kernels::pca_column_means(device_x.data(), n, d, mean.data(), stream);
        kernels::pca_center_columns(device_x.data(), n, d, 0, d, mean.data(), centered.data(), stream);
        kernels::synchronize(stream);
    });
    svd_seconds = seconds_of([&] {
        kernels::svd_left(d, n, centered.data(), d, singular.data(), u.data(), d, backend.libraries());
        kernels::synchronize(stream);
    });
    const std::vector<double> s = singular.download(stream), vectors = u.download(stream);
    Axes axes;
    axes.vectors.assign(vectors.begin(), vectors.begin() + count * d);
    for (int64_t i = 0; i < count; ++i) axes.variance.push_back(s[i] * s[i] / double(n - 1));
    return axes;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        std::vector<int64_t> sizes = {200, 1000, 4000};
        int64_t components = 500, dim = 61706;
        int device = 0;
        bool cpu = true, compare_gesvd = false;
        double time_limit = 120, peak_tflops = 67, peak_tbps = 4.8;
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            const auto value = [&]() -> std::string {
                TWP_CHECK(i + 1 < argc, arg << " needs a value");
                return argv[++i];
            };
            if (arg == "--sizes") sizes = bench::parse_sizes(value());
            else if (arg == "--components") components = std::atoll(value().c_str());
            else if (arg == "--dim") dim = std::atoll(value().c_str());
            else if (arg == "--device") device = std::atoi(value().c_str());
            else if (arg == "--no-cpu") cpu = false;
            else if (arg == "--compare-gesvd") compare_gesvd = true;
            else if (arg == "--time-limit") time_limit = std::atof(value().c_str());
            else if (arg == "--peak_tflops") peak_tflops = std::atof(value().c_str());
            else if (arg == "--peak_tbps") peak_tbps = std::atof(value().c_str());
            else TWP_FAIL("unknown argument " << arg << " (see the usage at the top of bench/bench_pca_gpu.cpp)");
        }
        TWP_CHECK(components >= 1 && dim >= 1, "--components and --dim must be >= 1");

        CudaBackend backend(device);
        {  // warm-up: cuBLAS and cuSOLVER handles, the CUDA context, kernel modules
            const std::vector<float> x = bench::random_walk(50, dim, 1);
            CudaPcaSolver solver(backend.libraries());
            (void)fit_pca(solver, x.data(), 50, dim, std::min<int64_t>(components, 50));
        }

        std::printf("{\n \"device\": \"%s\",\n \"dim\": %lld,\n \"peak_fp64_tflops\": %.1f,\n \"peak_tbps\": %.2f,\n"
                    " \"sizes\": [",
                    backend.description().c_str(), (long long)dim, peak_tflops, peak_tbps);
        double previous_gesvd = 0;
        int64_t previous_n = 0;
        for (size_t size_index = 0; size_index < sizes.size(); ++size_index) {
            const int64_t n = sizes[size_index], k = std::min({components, n, dim});
            const double nd = double(n) * double(dim);
            const std::vector<float> x = bench::random_walk(n, dim, 7);

            // The device fit: median of 3 below 10 s, else once; the stages of the median run.
            std::vector<std::pair<double, CudaPcaSolver::StageSeconds>> runs;
            PcaModel device_model;
            for (int repeat = 0; repeat < 3; ++repeat) {
                CudaPcaSolver solver(backend.libraries());
                const double total = seconds_of([&] { device_model = fit_pca(solver, x.data(), n, dim, k); });
                runs.push_back({total, solver.stage_seconds()});
                if (total > 10) break;
            }
            std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            const auto& [total, stage] = runs[runs.size() / 2];
            int64_t rank = 0;
            while (rank < k && device_model.explained_variance[rank] > 0) ++rank;
            const double host = total - stage.upload - stage.means - stage.gram - stage.eigensolver -
                                stage.components - stage.download;
            const double gram_flops = double(n) * double(n) * double(dim);
            const double eigen_flops = 9.0 * double(n) * double(n) * double(n);
            const double component_flops = 2.0 * double(rank) * double(n) * double(dim);
            // HBM traffic: Gram reads x (4nd) and writes + reads the double blocks (16nd); the
            // components pass does the same again; means read x once.
            const double gram_bytes = 20 * nd, component_bytes = 20 * nd + 4.0 * double(rank) * double(dim);
            const auto pct_flops = [&](double flops, double seconds) { return 100 * flops / seconds / (peak_tflops * 1e12); };
            const auto pct_bytes = [&](double bytes, double seconds) { return 100 * bytes / seconds / (peak_tbps * 1e12); };

            std::printf("%s\n  {\"n\": %lld, \"k\": %lld, \"rank\": %lld, \"device_fit_seconds\": %.4f,\n"
                        "   \"stages_seconds\": {\"upload\": %.4f, \"means\": %.4f, \"center_gram\": %.4f, "
                        "\"eigensolver\": %.4f, \"components\": %.4f, \"download\": %.4f, \"host\": %.4f},\n"
                        "   \"upload_gb_per_s\": %.1f,\n"
                        "   \"center_gram\": {\"gflop\": %.1f, \"pct_fp64_peak\": %.1f, \"pct_hbm_peak\": %.1f},\n"
                        "   \"eigensolver\": {\"gflop_estimate\": %.1f, \"pct_fp64_peak\": %.1f},\n"
                        "   \"components\": {\"gflop\": %.1f, \"pct_fp64_peak\": %.1f, \"pct_hbm_peak\": %.1f}",
                        size_index ? "," : "", (long long)n, (long long)k, (long long)rank, total, stage.upload,
                        stage.means, stage.gram, stage.eigensolver, stage.components, stage.download, host,
                        4 * nd / stage.upload / 1e9, gram_flops / 1e9, pct_flops(gram_flops, stage.gram),
                        pct_bytes(gram_bytes, stage.gram), eigen_flops / 1e9, pct_flops(eigen_flops, stage.eigensolver),
                        component_flops / 1e9, pct_flops(component_flops, stage.components),
                        pct_bytes(component_bytes, stage.components));

            Axes reference = model_axes(device_model);
            const char* reference_name = "device_fit";
            if (cpu) {
                PcaModel cpu_model;
                const double cpu_seconds = seconds_of([&] { cpu_model = fit_pca(x.data(), n, dim, k); });
                std::printf(",\n   \"cpu_fit_seconds\": %.3f, \"speedup_over_cpu\": %.1f,\n   \"device_vs_cpu\": %s",
                            cpu_seconds, cpu_seconds / total,
                            accuracy_json(accuracy(model_axes(device_model), model_axes(cpu_model), rank, dim, true)).c_str());
                reference = model_axes(cpu_model);
                reference_name = "cpu_fit";
            }
            if (compare_gesvd) {
                const double predicted = previous_n ? previous_gesvd * double(n) * n / (double(previous_n) * previous_n) : 0;
                if (dim < n) {
                    std::printf(",\n   \"gesvd\": {\"skipped\": \"cusolverDnDgesvd needs d >= n\"}");
                } else if (predicted > time_limit) {
                    std::printf(",\n   \"gesvd\": {\"skipped\": \"predicted %.0f s > --time-limit %.0f\"}", predicted, time_limit);
                } else {
                    double upload = 0, center = 0, svd = 0;
                    const Axes axes = gesvd_axes(backend, x, n, dim, k, upload, center, svd);
                    const double svd_total = upload + center + svd;
                    std::printf(",\n   \"gesvd\": {\"seconds\": %.4f, \"upload\": %.4f, \"center\": %.4f, \"svd\": %.4f, "
                                "\"over_gram_fit\": %.2f, \"vs_%s\": %s}",
                                svd_total, upload, center, svd, svd_total / total, reference_name,
                                accuracy_json(accuracy(axes, reference, rank, dim, false)).c_str());
                    previous_gesvd = svd_total;
                    previous_n = n;
                }
            }
            std::printf("}");
            std::fflush(stdout);
        }
        std::printf("\n ]\n}\n");
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_pca_gpu: %s\n", e.what());
        return 1;
    }
}
