// A forecaster predicts the next vector of a series from its history: the transformer, and the
// baselines it is always reported beside. The evaluation, the summary, results.json, the CSVs and
// the plots iterate over the list the registry makes (experiment/forecasters.cpp) and never name
// one, so adding a forecaster is one file (its class and a make_ function) and one registration.
//
// Spaces: every forecaster forecasts PCA scores (the space every MSE is reported in). One that
// works on any series as it is (a rule such as "repeat the last vector") also forecasts the raw
// weights directly, and its weight-space error is measured on that; for the others the weights
// are their scores mapped back through the PCA.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "experiment/feature_space.hpp"

namespace twp {

struct Config;
struct LoadedPredictor;

// A series so far: `length` vectors (oldest first; the last is x_t) of the forecast's width, in
// one run's storage.
struct History {
    const float* vectors = nullptr;
    int64_t length = 0;
};

// What a fit chose, for the summary and results.json: {"phi", "0.62"}, {"best_epoch", "41"}, ...
struct ForecasterFact {
    std::string key, value;
};

// Learned forecasters are the ones on trial; baselines are what they must beat.
enum class ForecasterRole { kLearned, kBaseline };

// How a forecaster is named in the outputs.
struct ForecasterNames {
    std::string key;          // results.json and CSV key: "last_value"
    std::string label;        // summary rows and plot legends: "last value (x_t)"
    std::string column;       // a short table column head and plug-in legend: "last value"
    std::string noun;         // in a sentence: "last value" ("WORSE than last value")
};

class Forecaster {
public:
    virtual ~Forecaster() = default;
    virtual const ForecasterNames& names() const = 0;
    virtual ForecasterRole role() const = 0;
    // Whether it forecasts the raw weights too (see the top of this file).
    virtual bool forecasts_weights() const { return false; }
    // The fewest vectors a history needs.
    virtual int64_t min_history() const { return 1; }

    // Learns from the train windows of `data`, choosing what it chooses (hyperparameters, the best
    // epoch) on its validation windows, never on the test windows; nothing where there is nothing
    // to learn or the forecaster was loaded trained.
    virtual void fit(const PredictorData& data) { (void)data; }
    // What the fit chose (empty before fit, or where nothing is chosen).
    virtual std::vector<ForecasterFact> facts() const { return {}; }
    // next [histories.size(), width]: the vector after each history.
    virtual std::vector<float> predict(const std::vector<History>& histories, int64_t width) = 0;
    // [steps, width]: the `steps` vectors after `history`. By default autoregressively: each
    // prediction joins the history for the next.
    virtual std::vector<float> forecast(const History& history, int64_t width, int steps);

    // ---- sampling forecasters (diffusion): a distribution, not one vector ----
    // How many draws a forecast makes; 0 for a point forecaster. A sampling forecaster's predict()
    // and forecast() are the means of its draws; the evaluation scores the draws' spread too.
    virtual int64_t samples() const { return 0; }
    // [histories.size(), samples(), width]: draws of the vector after each history, in the width
    // predict() takes. Deterministic: the same draws for the same seed and histories.
    virtual std::vector<float> sample(const std::vector<History>& histories, int64_t width);
    // [samples(), steps, width]: sample paths, each step drawn given the path's own past.
    virtual std::vector<float> sample_paths(const History& history, int64_t width, int steps);
};

using Forecasters = std::vector<std::unique_ptr<Forecaster>>;

// What a registered forecaster may be made from.
struct ForecasterContext {
    Backend& backend;
    const Config& config;
    const PredictorData& data;
    const LoadedPredictor* loaded = nullptr;  // the evaluation modes' --model_path
    std::filesystem::path experiment_dir;     // where a learned forecaster saves its models
    bool resume = false;                      // continue an interrupted fit from its checkpoint
};

// A factory may return nothing: the forecaster has no place in this experiment (a learned one in
// an evaluation mode whose --model_path holds another).
using ForecasterFactory = std::function<std::unique_ptr<Forecaster>(const ForecasterContext&)>;

// The forecasters an experiment reports, in order: the built-in ones (experiment/forecasters.cpp)
// and any added later. Registering a key that exists replaces that entry.
class ForecasterRegistry {
public:
    struct Entry {
        std::string key;
        ForecasterFactory make;
        bool by_default = true;  // evaluated without --forecasters
    };
    void add(const std::string& key, ForecasterFactory make, bool by_default = true);
    void remove(const std::string& key);
    Forecasters make_all(const ForecasterContext& context) const;
    // The forecasters of `keys`, in that order (empty: the default ones, in registration order);
    // UsageError for a key that is not registered, naming the ones that are.
    Forecasters make(const ForecasterContext& context, const std::vector<std::string>& keys) const;
    // UsageError as make() for an unknown or repeated key, before anything is made.
    void check_keys(const std::vector<std::string>& keys) const;
    const std::vector<Entry>& entries() const { return entries_; }
    std::vector<std::string> default_keys() const;

private:
    std::vector<Entry> entries_;
};

// The registry every experiment uses, with the built-in forecasters registered.
ForecasterRegistry& forecaster_registry();

}  // namespace twp
