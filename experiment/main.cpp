// twp's entry point: parse the command line, plan, load and check the inputs, pick the backend,
// run the experiment (experiment/pipeline.hpp), or with --sweep the grid of experiments, each as a
// child process of this binary (experiment/sweep.hpp). Every failure ends here as one clear message and
// a non-zero exit (2 for a usage mistake, 1 for anything else).
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "engine/device_backend.hpp"
#include "experiment/config.hpp"
#include "experiment/pipeline.hpp"
#include "experiment/sweep.hpp"

namespace twp {
namespace {

int run(const Config& config) {
    const Plan plan = make_plan(config);
    // Inputs the plan needs are read (and refused if missing or bad) before anything is written.
    Inputs inputs = load_inputs(config, plan);
    // Everything runs on one backend: the GPU where there is one, else the CPU. Only file writing
    // and plotting stay on the host.
    const ChosenBackend chosen =
        choose_backend({config.no_cuda, config.device, config.device_given, config.tf32, config.threads});
    std::fprintf(stderr, "twp: %s\n", chosen.note.c_str());
    std::fprintf(stderr, "twp: backend %s\n", chosen.backend->description().c_str());
    run_experiment(*chosen.backend, config, plan, inputs, chosen.note);
    return 0;
}

}  // namespace
}  // namespace twp

int main(int argc, char** argv) {
    try {
        const twp::Config config = twp::parse_args(std::vector<std::string>(argv + 1, argv + argc));
        if (config.help) {
            std::fputs(twp::usage_text().c_str(), stdout);
            return 0;
        }
        // /proc/self/exe: the children run this very binary, even if the file is replaced meanwhile.
        if (!config.sweep.empty()) return twp::run_sweep(twp::plan_sweep(config), "/proc/self/exe");
        return twp::run(config);
    } catch (const twp::UsageError& e) {
        std::fprintf(stderr, "twp: %s\nRun `twp --help` for the options.\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "twp: error: %s\n", e.what());
        return 1;
    }
}
