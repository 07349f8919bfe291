// A sweep's table and heat maps; see sweep_table.hpp.
#include "experiment/sweep_table.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/error.hpp"
#include "experiment/plot.hpp"

namespace twp {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kLastValue = "last_value";

double number_or_nan(const Json& j, const char* key) {
    return j.contains(key) && j[key].is_number() ? j[key].get<double>() : NAN;
}

std::string shortest(double value) {
    if (!std::isfinite(value)) return "";
    char text[32];
    const auto result = std::to_chars(text, text + sizeof text, value);
    return std::string(text, result.ptr);
}

std::string format(const char* spec, double value) {
    if (!std::isfinite(value)) return "n/a";
    char text[64];
    std::snprintf(text, sizeof text, spec, value);
    return text;
}

std::string csv_field(const std::string& text) {
    if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
    std::string quoted = "\"";
    for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
    return quoted + "\"";
}

// A value as a file name may hold it.
std::string file_safe(const std::string& text) {
    std::string safe = text;
    for (char& c : safe)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_') c = '_';
    return safe;
}

// The forecaster keys in the order the rows first name them.
std::vector<std::string> forecaster_keys(const std::vector<SweepTableRow>& rows) {
    std::vector<std::string> keys;
    for (const SweepTableRow& row : rows)
        for (const ForecasterScore& f : row.scores.forecasters)
            if (std::find(keys.begin(), keys.end(), f.key) == keys.end()) keys.push_back(f.key);
    return keys;
}

const ForecasterScore* score_of(const CellScores& scores, const std::string& key) {
    for (const ForecasterScore& f : scores.forecasters)
        if (f.key == key) return &f;
    return nullptr;
}

std::string csv_text(const std::vector<std::string>& flags, const std::vector<SweepTableRow>& rows,
                     const std::vector<std::string>& keys, bool verdicts) {
    std::ostringstream t;
    t << "cell";
    for (const std::string& flag : flags) t << ',' << csv_field(flag);
    t << ",status,seconds,best,best_ratio";
    if (verdicts) t << ",split";
    for (const std::string& key : keys) {
        t << ',' << key << "_weight_mse," << key << "_ratio";
        if (verdicts) t << ',' << key << "_verdict," << key << "_low," << key << "_high";
    }
    t << ",experiment\n";
    for (const SweepTableRow& row : rows) {
        t << row.cell;
        for (const std::string& v : row.values) t << ',' << csv_field(v);
        t << ',' << row.status << ',' << format("%.1f", row.seconds) << ',' << row.scores.best << ','
          << shortest(row.scores.best_ratio);
        if (verdicts) t << ',' << csv_field(row.scores.split);
        for (const std::string& key : keys) {
            const ForecasterScore* f = score_of(row.scores, key);
            t << ',' << (f ? shortest(f->weight_mse) : "") << ',' << (f ? shortest(f->ratio) : "");
            if (verdicts)
                t << ',' << (f ? csv_field(f->verdict) : "") << ',' << (f ? shortest(f->low) : "") << ','
                  << (f ? shortest(f->high) : "");
        }
        t << ',' << csv_field(row.experiment) << '\n';
    }
    return t.str();
}

std::string summary_text(const std::vector<std::string>& flags, const std::vector<SweepTableRow>& rows,
                         const std::vector<std::string>& keys) {
    std::vector<std::vector<std::string>> table;
    std::vector<std::string> header = {"cell"};
    header.insert(header.end(), flags.begin(), flags.end());
    for (const char* h : {"status", "seconds", "best", "best ratio"}) header.push_back(h);
    for (const std::string& key : keys) {
        header.push_back(key + " MSE");
        header.push_back(key + " ratio");
    }
    table.push_back(header);
    int done = 0, beaten = 0;
    for (const SweepTableRow& row : rows) {
        std::vector<std::string> line = {std::to_string(row.cell)};
        line.insert(line.end(), row.values.begin(), row.values.end());
        line.push_back(row.status);
        line.push_back(format("%.1f", row.seconds));
        line.push_back(row.scores.best.empty() ? "-" : row.scores.best);
        line.push_back(row.scores.best.empty() ? "-" : format("%.4g", row.scores.best_ratio));
        for (const std::string& key : keys) {
            const ForecasterScore* f = score_of(row.scores, key);
            line.push_back(f ? format("%.4g", f->weight_mse) : "-");
            line.push_back(f ? format("%.4g", f->ratio) : "-");
        }
        table.push_back(line);
        done += row.status == "done";
        beaten += row.status == "done" && row.scores.best_ratio < 1;
    }
    std::vector<size_t> width(header.size(), 0);
    for (const auto& line : table)
        for (size_t i = 0; i < line.size(); ++i) width[i] = std::max(width[i], line[i].size());
    std::ostringstream t;
    t << "Sweep Results Summary:\n" << std::string(50, '=') << "\n";
    t << rows.size() << " cells, " << done << " done. Direct prediction MSE in weight space; ratio = the "
      << "forecaster's MSE / last value's (below 1 beats last value); best = the lowest ratio but last value's.\n";
    t << "In " << beaten << " of " << done << " done cells the best forecaster beats last value.\n\n";
    for (const auto& line : table) {
        for (size_t i = 0; i < line.size(); ++i)
            t << (i ? "  " : "") << std::string(width[i] - line[i].size(), ' ') << line[i];
        t << "\n";
    }
    return t.str();
}

// The heat maps: the first axis across, the second up, one map per combination of the others.
void write_heat_maps(const fs::path& plots, const std::vector<std::string>& flags,
                     const std::vector<std::vector<std::string>>& axis_values, const std::vector<SweepTableRow>& rows) {
    if (flags.empty()) return;
    std::map<std::vector<std::string>, const SweepTableRow*> by_values;
    for (const SweepTableRow& row : rows) by_values[row.values] = &row;
    // The combinations of the axes after the second, the last varying fastest.
    std::vector<std::vector<std::string>> fixed = {{}};
    for (size_t a = 2; a < flags.size(); ++a) {
        std::vector<std::vector<std::string>> next;
        for (const auto& prefix : fixed)
            for (const std::string& v : axis_values[a]) {
                next.push_back(prefix);
                next.back().push_back(v);
            }
        fixed = next;
    }
    const std::vector<std::string> row_values = flags.size() > 1 ? axis_values[1] : std::vector<std::string>{""};
    for (const std::vector<std::string>& others : fixed) {
        HeatMap map;
        map.title = "Best forecaster's one-step weight MSE / last value's";
        std::string name = "sweep_heatmap";
        for (size_t i = 0; i < others.size(); ++i) {
            map.title += (i ? ", " : " (") + flags[i + 2] + "=" + others[i];
            name += "_" + file_safe(flags[i + 2]) + "-" + file_safe(others[i]);
        }
        if (!others.empty()) map.title += ")";
        map.x_label = flags[0];
        map.y_label = flags.size() > 1 ? flags[1] : "";
        map.scale_label = "ratio to last value (log scale)";
        map.columns = axis_values[0];
        map.rows = row_values;
        for (size_t r = 0; r < map.rows.size(); ++r)
            for (size_t c = 0; c < map.columns.size(); ++c) {
                std::vector<std::string> values = {map.columns[c]};
                if (flags.size() > 1) values.push_back(map.rows[r]);
                values.insert(values.end(), others.begin(), others.end());
                const auto it = by_values.find(values);
                const SweepTableRow* row = it == by_values.end() ? nullptr : it->second;
                const bool scored = row && row->status == "done" && !row->scores.best.empty();
                map.values.push_back(scored ? row->scores.best_ratio : NAN);
                map.notes.push_back(scored ? row->scores.best : row ? row->status : "missing");
            }
        save_heat_map_png(plots / (name + ".png"), map);
        save_heat_map_csv(plots / (name + ".csv"), map);
    }
}

}  // namespace

CellScores read_cell_scores(const fs::path& results_json) {
    std::ifstream in(results_json);
    TWP_CHECK(in.good(), "cannot read " << results_json.string());
    const Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
    TWP_CHECK(j.is_object() && j.contains("direct_prediction") && j["direct_prediction"].is_object(),
              results_json.string() << " has no direct_prediction section");
    CellScores scores;
    double last_value_mse = NAN;
    for (const auto& [key, entry] : j["direct_prediction"].items()) {
        if (!entry.is_object()) continue;  // "windows"
        ForecasterScore f;
        f.key = key;
        f.weight_mse = number_or_nan(entry, "weight_mse");
        if (key == kLastValue) last_value_mse = f.weight_mse;
        scores.forecasters.push_back(f);
    }
    for (ForecasterScore& f : scores.forecasters) f.ratio = f.weight_mse / last_value_mse;
    if (j.contains("verdicts") && j["verdicts"].is_array() && !j["verdicts"].empty()) {
        scores.split = j["verdicts"][0].value("split", "");
        for (const Json& v : j["verdicts"]) {
            if (!v.is_object() || v.value("split", "") != scores.split) continue;
            for (ForecasterScore& f : scores.forecasters)
                if (f.key == v.value("forecaster", "")) {
                    f.ratio = number_or_nan(v, "ratio");
                    f.low = number_or_nan(v, "low");
                    f.high = number_or_nan(v, "high");
                    f.verdict = v.value("verdict", "");
                }
        }
    }
    for (const ForecasterScore& f : scores.forecasters)
        if (f.key != kLastValue && std::isfinite(f.ratio) && (scores.best.empty() || f.ratio < scores.best_ratio)) {
            scores.best = f.key;
            scores.best_ratio = f.ratio;
        }
    return scores;
}

std::string write_sweep_table(const fs::path& sweep_dir, const std::vector<std::string>& axis_flags,
                              const std::vector<std::vector<std::string>>& axis_values,
                              const std::vector<SweepTableRow>& rows) {
    const std::vector<std::string> keys = forecaster_keys(rows);
    bool verdicts = false;
    for (const SweepTableRow& row : rows) verdicts = verdicts || !row.scores.split.empty();
    write_file_atomically(sweep_dir / "sweep_results.csv", csv_text(axis_flags, rows, keys, verdicts));
    const std::string summary = summary_text(axis_flags, rows, keys);
    write_file_atomically(sweep_dir / "sweep_summary.txt", summary);
    create_directories_checked(sweep_dir / "plots");
    write_heat_maps(sweep_dir / "plots", axis_flags, axis_values, rows);
    return summary;
}

}  // namespace twp
