// Progress of a long loop: on a terminal, one redrawn bar with rate and ETA; otherwise (logs, CI)
// a plain line every few seconds, so a log file is not flooded with carriage returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace twp {

class Progress {
public:
    // total: units of work (e.g. images); unit: what they are called in the rate ("img").
    Progress(std::string label, int64_t total, std::string unit, std::FILE* out = stderr);
    // done: units finished so far; note: short text shown after the bar (e.g. the loss).
    void update(int64_t done, const std::string& note = {});
    // Prints the final state once and ends the bar's line.
    void finish(const std::string& note = {});
    // A log line between bar updates: on a terminal it replaces the bar, which is redrawn below it
    // at the next update.
    void print_line(const std::string& line);

private:
    void draw(int64_t done, const std::string& note, bool final_line);

    std::string label_, unit_;
    int64_t total_;
    std::FILE* out_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    bool finished_ = false;
};

// "1:02:03" or "2:03".
std::string format_duration(double seconds);

}  // namespace twp
