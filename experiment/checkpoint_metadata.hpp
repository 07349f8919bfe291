// The metadata both trainers' checkpoints (base training's, experiment/snapshots.hpp, and the
// predictor's, experiment/predictor_checkpoint.hpp) share: the settings that say what the training
// is (experiment/training_settings.hpp), the format name, and the shuffle generator's state
// (shuffle_position, shuffle_used), and where the training stands (epoch, step). Each checkpoint adds
// its own counters beside them.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>

#include "engine/random.hpp"
#include "engine/safetensors.hpp"

namespace twp {

// What every checkpoint holds; BaseCheckpoint and PredictorCheckpoint extend it.
struct CheckpointHeader {
    std::map<std::string, std::string> settings;  // what the training is (the metadata less the rest)
    RngState shuffle;                             // after the last epoch's shuffle
    int epoch = 0;                                // see each checkpoint
    int64_t step = 0;                             // optimizer steps done
};

// The header as metadata, with `format`; the checkpoint adds its own counters.
std::map<std::string, std::string> checkpoint_metadata(const CheckpointHeader& header, const std::string& format);
// Reads it back from `file`, which must be of `format` (else twp::Error: "<file> is not <what>");
// `counters` are the checkpoint's own keys, left out of the settings.
CheckpointHeader read_checkpoint_metadata(const SafetensorsFile& file, const std::string& format,
                                            const std::string& what, std::initializer_list<const char*> counters);

}  // namespace twp
