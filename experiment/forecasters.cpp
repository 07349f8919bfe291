// The forecaster registry and its built-in entries; see forecaster.hpp. A new forecaster is
// registered here, with one line in builtin_registry() (and its make_ function declared above it).
#include <algorithm>

#include "engine/error.hpp"
#include "experiment/config.hpp"
#include "experiment/forecaster.hpp"

namespace twp {

// Each in its own file.
std::unique_ptr<Forecaster> make_seed_forecaster(const ForecasterContext& context);         // transformer_forecaster.cpp
std::unique_ptr<Forecaster> make_transformer_forecaster(const ForecasterContext& context);  // transformer_forecaster.cpp
std::unique_ptr<Forecaster> make_last_value_forecaster(const ForecasterContext& context);   // last_value.cpp
std::unique_ptr<Forecaster> make_linear_forecaster(const ForecasterContext& context);       // linear_extrapolation.cpp
std::unique_ptr<Forecaster> make_damped_trend_forecaster(const ForecasterContext& context); // damped_trend.cpp
std::unique_ptr<Forecaster> make_smoothing_forecaster(const ForecasterContext& context);    // smoothing.cpp
std::unique_ptr<Forecaster> make_ar_forecaster(const ForecasterContext& context);           // ar.cpp
std::unique_ptr<Forecaster> make_ar_weight_forecaster(const ForecasterContext& context);    // ar_weight.cpp
std::unique_ptr<Forecaster> make_per_weight_forecaster(const ForecasterContext& context);   // per_weight_forecaster.cpp
std::unique_ptr<Forecaster> make_diffusion_forecaster(const ForecasterContext& context);    // diffusion_forecaster.cpp

namespace {

ForecasterRegistry builtin_registry() {
    ForecasterRegistry registry;
    registry.add("seed", make_seed_forecaster);
    registry.add("transformer", make_transformer_forecaster);
    registry.add("last_value", make_last_value_forecaster);
    registry.add("linear", make_linear_forecaster);
    registry.add("damped_trend", make_damped_trend_forecaster);
    registry.add("smoothing", make_smoothing_forecaster);
    registry.add("ar", make_ar_forecaster);
    registry.add("ar_weight", make_ar_weight_forecaster);
    registry.add("per_weight", make_per_weight_forecaster);
    // Not by default: its plug-in test scores every draw (--samples per step and run).
    registry.add("diffusion", make_diffusion_forecaster, /*by_default=*/false);
    return registry;
}

}  // namespace

std::vector<float> Forecaster::forecast(const History& history, int64_t width, int steps) {
    TWP_CHECK(history.length >= min_history(), names().key << ": a history of " << history.length
                                                           << " vectors, at least " << min_history() << " needed");
    std::vector<float> series(history.vectors, history.vectors + history.length * width);
    std::vector<float> path;
    path.reserve(size_t(steps) * width);
    for (int i = 0; i < steps; ++i) {
        const int64_t length = int64_t(series.size()) / width;
        const std::vector<float> next = predict({History{series.data(), length}}, width);
        path.insert(path.end(), next.begin(), next.end());
        series.insert(series.end(), next.begin(), next.end());
    }
    return path;
}

std::vector<float> Forecaster::sample(const std::vector<History>& histories, int64_t width) {
    (void)histories;
    (void)width;
    TWP_FAIL(names().key << " is a point forecaster: it draws no samples");
}

std::vector<float> Forecaster::sample_paths(const History& history, int64_t width, int steps) {
    (void)history;
    (void)width;
    (void)steps;
    TWP_FAIL(names().key << " is a point forecaster: it draws no sample paths");
}

void ForecasterRegistry::add(const std::string& key, ForecasterFactory make, bool by_default) {
    TWP_CHECK(!key.empty() && make, "a forecaster is registered with a key and a factory");
    for (Entry& e : entries_)
        if (e.key == key) {
            e.make = std::move(make);
            e.by_default = by_default;
            return;
        }
    entries_.push_back({key, std::move(make), by_default});
}

std::vector<std::string> ForecasterRegistry::default_keys() const {
    std::vector<std::string> keys;
    for (const Entry& e : entries_)
        if (e.by_default) keys.push_back(e.key);
    return keys;
}

void ForecasterRegistry::remove(const std::string& key) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; }),
                   entries_.end());
}

namespace {

std::unique_ptr<Forecaster> made(const ForecasterRegistry::Entry& e, const ForecasterContext& context) {
    std::unique_ptr<Forecaster> f = e.make(context);
    TWP_CHECK(!f || f->names().key == e.key,
              "the forecaster registered as '" << e.key << "' made '" << f->names().key << "'");
    return f;
}

}  // namespace

Forecasters ForecasterRegistry::make_all(const ForecasterContext& context) const {
    Forecasters all;
    for (const Entry& e : entries_)
        if (std::unique_ptr<Forecaster> f = made(e, context)) all.push_back(std::move(f));
    return all;
}

Forecasters ForecasterRegistry::make(const ForecasterContext& context, const std::vector<std::string>& keys) const {
    if (keys.empty()) return make(context, default_keys());
    check_keys(keys);
    Forecasters chosen;
    for (const std::string& key : keys)
        for (const Entry& e : entries_)
            if (e.key == key)
                if (std::unique_ptr<Forecaster> f = made(e, context)) chosen.push_back(std::move(f));
    return chosen;
}

void ForecasterRegistry::check_keys(const std::vector<std::string>& keys) const {
    for (size_t i = 0; i < keys.size(); ++i) {
        const std::string& key = keys[i];
        if (std::find(keys.begin(), keys.begin() + i, key) != keys.begin() + i)
            throw UsageError("--forecasters names " + key + " twice");
        if (std::none_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; })) {
            std::string known;
            for (const Entry& e : entries_) known += (known.empty() ? "" : ", ") + e.key;
            throw UsageError("--forecasters: there is no forecaster '" + key + "' (there are " + known + ")");
        }
    }
}

ForecasterRegistry& forecaster_registry() {
    static ForecasterRegistry registry = builtin_registry();
    return registry;
}

}  // namespace twp
