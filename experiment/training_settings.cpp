// Settings tables of the trainers; see training_settings.hpp.
#include "experiment/training_settings.hpp"

namespace twp {

std::map<std::string, std::string> settings_metadata(const Settings& settings) {
    std::map<std::string, std::string> metadata;
    for (const Setting& s : settings) metadata[s.key] = s.value;
    return metadata;
}

std::optional<SettingMismatch> find_mismatch(const Settings& settings,
                                             const std::map<std::string, std::string>& written) {
    for (const Setting& s : settings) {
        const auto found = written.find(s.key);
        const std::string value = found == written.end() ? "(none)" : found->second;
        if (value != s.value) return SettingMismatch{s, value};
    }
    return std::nullopt;
}

}  // namespace twp
