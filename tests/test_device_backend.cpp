// Which backend the experiment gets (engine/device_backend.*): never a crash for lack of a GPU.
#include <catch2/catch.hpp>

#include "engine/device_backend.hpp"
#include "engine/device_probe.hpp"

namespace twp {
namespace {

TEST_CASE("the backend: --no_cuda, no GPU, or the CUDA device", "[device]") {
    ChosenBackend forced = choose_backend({true, 0, false, false, 1});
    REQUIRE(forced.backend->name() == "cpu");
    REQUIRE_THAT(forced.note, Catch::Contains("--no_cuda"));

    const DeviceProbe probe = probe_devices();
    ChosenBackend chosen = choose_backend({false, 0, false, false, 1});
    if (probe.devices.empty()) {
        // This machine (and CI) has no GPU: the CPU, and one line saying why.
        REQUIRE(chosen.backend->name() == "cpu");
        REQUIRE_THAT(chosen.note, Catch::Contains("CPU") && Catch::Contains(probe.problem));
        // A --device on a machine without any falls back as well: there is nothing to choose.
        REQUIRE(choose_backend({false, 3, true, false, 1}).backend->name() == "cpu");
    } else {
        REQUIRE(chosen.backend->name() == (probe.built_with_cuda ? "cuda" : "cpu"));
        REQUIRE_THAT(chosen.note, Catch::Contains(probe.devices.front().name));
        // A device the machine does not have, asked for by name, is refused.
        REQUIRE_THROWS_WITH(choose_backend({false, 99, true, false, 1}), Catch::Contains("--device 99"));
    }
}

}  // namespace
}  // namespace twp
