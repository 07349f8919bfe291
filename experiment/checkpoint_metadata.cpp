// The metadata checkpoints share; see checkpoint_metadata.hpp.
#include "experiment/checkpoint_metadata.hpp"

#include "engine/error.hpp"

namespace twp {

std::map<std::string, std::string> checkpoint_metadata(const CheckpointHeader& h, const std::string& format) {
    std::map<std::string, std::string> metadata = h.settings;
    metadata["format"] = format;
    metadata["shuffle_position"] = std::to_string(h.shuffle.position);
    metadata["shuffle_used"] = std::to_string(h.shuffle.used);
    metadata["epoch"] = std::to_string(h.epoch);
    metadata["step"] = std::to_string(h.step);
    return metadata;
}

CheckpointHeader read_checkpoint_metadata(const SafetensorsFile& file, const std::string& format,
                                            const std::string& what, std::initializer_list<const char*> counters) {
    const auto found = file.metadata.find("format");
    TWP_CHECK(found != file.metadata.end() && found->second == format, file.source << " is not " << what);
    CheckpointHeader m;
    m.settings = file.metadata;
    for (const char* key : {"format", "shuffle_position", "shuffle_used", "epoch", "step"}) m.settings.erase(key);
    for (const char* key : counters) m.settings.erase(key);
    m.shuffle.position = metadata_number<uint64_t>(file, "shuffle_position");
    m.shuffle.used = metadata_number<int>(file, "shuffle_used");
    m.epoch = metadata_number<int>(file, "epoch");
    m.step = metadata_number<int64_t>(file, "step");
    return m;
}

}  // namespace twp
