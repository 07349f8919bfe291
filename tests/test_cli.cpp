// Command-line parsing: the reference's flags and defaults, aliases, and every refusal.
#include <catch2/catch.hpp>

#include "experiment/config.hpp"

using namespace twp;

TEST_CASE("defaults are the reference project's", "[cli]") {
    const Config c = parse_args({});
    REQUIRE(c.mode == "full");
    REQUIRE(c.training_epochs == 20);
    REQUIRE(c.snapshots_per_epoch == 1);
    REQUIRE(c.num_runs == 3);
    REQUIRE(c.snapshot_dir == "./data/snapshots");
    REQUIRE(c.dataset == "mnist");
    REQUIRE(c.resolved_data_dir() == "data/mnist");
    REQUIRE_FALSE(c.no_cuda);
}

TEST_CASE("flags, aliases and the legacy --train_base", "[cli]") {
    const Config c = parse_args({"--train_base", "--base_epochs", "3", "--saves_per_epoch=4",
                                 "--num_runs", "2", "--random_seed", "7", "--snapshot_dir", "/tmp/s",
                                 "--dataset", "fashion-mnist", "--no_cuda", "--threads", "1"});
    REQUIRE(c.mode == "train_base");
    REQUIRE(c.training_epochs == 3);
    REQUIRE(c.snapshots_per_epoch == 4);
    REQUIRE(c.num_runs == 2);
    REQUIRE(c.random_seed == 7);
    REQUIRE(c.snapshot_dir == "/tmp/s");
    REQUIRE(c.resolved_data_dir() == "data/fashion-mnist");
    REQUIRE(c.no_cuda);
    REQUIRE(c.threads == 1);
    REQUIRE(parse_args({"--training_epochs", "5"}).training_epochs == 5);
    REQUIRE(parse_args({"--snapshots_per_epoch", "10"}).snapshots_per_epoch == 10);
    // An explicit mode wins over the legacy flag, as in the reference.
    REQUIRE(parse_args({"--mode", "evaluate", "--train_base"}).mode == "evaluate");
    REQUIRE(parse_args({"--help"}).help);
    REQUIRE(parse_args({}).device == 0);
    REQUIRE_FALSE(parse_args({}).device_given);
    REQUIRE(parse_args({"--device", "1"}).device == 1);
    REQUIRE(parse_args({"--device=2"}).device_given);
    REQUIRE_FALSE(parse_args({}).tf32);
    REQUIRE(parse_args({"--tf32"}).tf32);
}

TEST_CASE("the protocol's flags: forecasters, validation, selection, splits, repeats, sweeps", "[cli]") {
    const Config defaults = parse_args({});
    CHECK(defaults.forecasters.empty());  // kDefaultForecasters
    CHECK(defaults.validation_fraction == 0.2);
    CHECK(defaults.selection == "validation");
    CHECK(defaults.split == "time");
    CHECK(defaults.repeats == 1);
    CHECK(parse_args({"--forecasters", "seed,last_value"}).forecasters == std::vector<std::string>{"seed", "last_value"});
    CHECK(parse_args({"--split=both", "--repeats", "5"}).repeats == 5);
    const Config sweep = parse_args({"--sweep", "sequence_length=3,5,8", "train_split=0.3,0.5", "--jobs", "2"});
    CHECK(sweep.sweep == std::vector<std::string>{"sequence_length=3,5,8", "train_split=0.3,0.5"});
    CHECK(sweep.jobs == 2);
    CHECK(parse_args({"--selection", "test", "--validation_fraction", "0"}).validation_fraction == 0);
    using Catch::Contains;
    REQUIRE_THROWS_WITH(parse_args({"--forecasters", "seed,,ar"}), Contains("empty item"));
    REQUIRE_THROWS_WITH(parse_args({"--validation_fraction", "1"}), Contains("--validation_fraction must lie in"));
    REQUIRE_THROWS_WITH(parse_args({"--validation_fraction", "0"}), Contains("--selection test"));
    REQUIRE_THROWS_WITH(parse_args({"--selection", "best"}), Contains("validation|test"));
    REQUIRE_THROWS_WITH(parse_args({"--split", "random"}), Contains("time|runs|both"));
    REQUIRE_THROWS_WITH(parse_args({"--repeats", "0"}), Contains("--repeats must be at least 1"));
    REQUIRE_THROWS_WITH(parse_args({"--sweep", "sequence_length"}), Contains("FLAG=V1,V2"));
    REQUIRE_THROWS_WITH(parse_args({"--sweep", "--jobs", "2"}), Contains("--sweep needs"));
    REQUIRE_THROWS_WITH(parse_args({"--sweep", "train_split=0.3,"}), Contains("empty item"));
}

TEST_CASE("invalid arguments are refused with the flag named", "[cli]") {
    using Catch::Contains;
    REQUIRE_THROWS_WITH(parse_args({"--num_runs", "0"}), Contains("--num_runs must be at least 1"));
    REQUIRE_THROWS_WITH(parse_args({"--training_epochs", "-2"}), Contains("--training_epochs must be at least 1"));
    REQUIRE_THROWS_WITH(parse_args({"--snapshots_per_epoch", "0"}), Contains("--snapshots_per_epoch"));
    REQUIRE_THROWS_WITH(parse_args({"--num_runs", "two"}), Contains("wants an integer"));
    REQUIRE_THROWS_WITH(parse_args({"--num_runs", "3x"}), Contains("wants an integer"));
    REQUIRE_THROWS_WITH(parse_args({"--random_seed", "-1"}), Contains("--random_seed"));
    REQUIRE_THROWS_WITH(parse_args({"--mode", "train"}), Contains("'train' is not one of full|train_base"));
    REQUIRE_THROWS_WITH(parse_args({"--dataset", "cifar"}), Contains("not one of mnist|fashion-mnist"));
    REQUIRE_THROWS_WITH(parse_args({"--epochs", "3"}), Contains("unknown argument '--epochs'"));
    REQUIRE_THROWS_WITH(parse_args({"--num_runs"}), Contains("--num_runs needs a value"));
    REQUIRE_THROWS_WITH(parse_args({"--snapshot_dir="}), Contains("--snapshot_dir is empty"));
    REQUIRE_THROWS_AS(parse_args({"--no_cuda=1"}), UsageError);
    REQUIRE_THROWS_AS(parse_args({"--tf32=1"}), UsageError);
    REQUIRE_THROWS_WITH(parse_args({"--device", "-1"}), Contains("--device"));
}
