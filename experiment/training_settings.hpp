// What a training is, as a table of settings: each trainer writes its table into every checkpoint
// and, on --resume, continues only a checkpoint whose table matches this command's, so that a
// resumed training is the interrupted one bit for bit. Each setting names the flag behind it, for
// the message when a resume does not match.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace twp {

struct Setting {
    std::string key, value;
    std::string flag;  // the command-line flag (or what) decides it; may be empty
};
using Settings = std::vector<Setting>;

// key -> value, as a checkpoint's metadata holds them.
std::map<std::string, std::string> settings_metadata(const Settings& settings);

// The first setting whose value in `written` (a checkpoint's metadata) differs, with what was
// written ("(none)" when the key is missing); nothing when all match.
struct SettingMismatch {
    Setting setting;
    std::string written;
};
std::optional<SettingMismatch> find_mismatch(const Settings& settings,
                                             const std::map<std::string, std::string>& written);

}  // namespace twp
