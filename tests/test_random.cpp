// Philox4x32-10 against the known-answer vectors of its authors' Random123 distribution, and the
// host Rng built on it.
#include <catch2/catch.hpp>

#include <vector>

#include "engine/random.hpp"

using namespace twp;

TEST_CASE("Philox4x32-10 known answers", "[random]") {
    REQUIRE(philox4x32({0, 0, 0, 0}, 0) == PhiloxBlock{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8});
    REQUIRE(philox4x32({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, 0xffffffffffffffffull) ==
            PhiloxBlock{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd});
    REQUIRE(philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344},
                       0x299f31d0a4093822ull) ==
            PhiloxBlock{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1});
}

TEST_CASE("Rng streams are reproducible, independent and in range", "[random]") {
    Rng a(7, RngStream::kInit), b(7, RngStream::kInit), c(7, RngStream::kShuffle), d(8, RngStream::kInit);
    int same_other_stream = 0, same_other_seed = 0;
    for (int i = 0; i < 1000; ++i) {
        const uint32_t x = a.next_u32();
        REQUIRE(x == b.next_u32());
        same_other_stream += x == c.next_u32();
        same_other_seed += x == d.next_u32();
    }
    REQUIRE(same_other_stream < 2);
    REQUIRE(same_other_seed < 2);

    Rng rng(1, RngStream::kInit);
    std::vector<int> counts(10);
    double sum = 0;
    for (int i = 0; i < 100000; ++i) {
        const float u = rng.uniform();
        REQUIRE(u >= 0.0f);
        REQUIRE(u < 1.0f);
        sum += u;
        const uint32_t k = rng.below(10);
        REQUIRE(k < 10);
        ++counts[k];
    }
    REQUIRE(sum / 100000 == Approx(0.5).margin(0.01));
    for (int c10 : counts) REQUIRE(c10 == Approx(10000).margin(500));
    const float bounded = rng.uniform(0.25f);
    REQUIRE(bounded >= -0.25f);
    REQUIRE(bounded < 0.25f);
}
