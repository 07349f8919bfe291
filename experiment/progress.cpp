// Progress bar / periodic log lines; see progress.hpp.
#include "experiment/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace twp {

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const long total = std::lround(seconds);
    char text[32];
    if (total >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
    else
        std::snprintf(text, sizeof text, "%ld:%02ld", total / 60, total % 60);
    return text;
}

Progress::Progress(std::string label, int64_t total, std::string unit, std::FILE* out)
    : label_(std::move(label)), unit_(std::move(unit)), total_(std::max<int64_t>(total, 1)),
      out_(out), terminal_(isatty(fileno(out)) != 0), start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(int64_t done, const std::string& note) {
    const auto now = std::chrono::steady_clock::now();
    // A terminal is redrawn a few times a second; a log gets a line every 10 seconds.
    const auto period = terminal_ ? std::chrono::milliseconds(200) : std::chrono::seconds(10);
    if (now - last_draw_ < period) return;
    last_draw_ = now;
    draw(done, note, false);
}

void Progress::finish(const std::string& note) {
    if (finished_) return;
    finished_ = true;
    draw(total_, note, true);
}

void Progress::print_line(const std::string& line) {
    std::fprintf(out_, "%s%s\n", terminal_ ? "\r\033[K" : "", line.c_str());
    std::fflush(out_);
}

void Progress::draw(int64_t done, const std::string& note, bool final_line) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    const double rate = elapsed > 0 ? double(done) / elapsed : 0;
    const double eta = rate > 0 ? double(total_ - done) / rate : NAN;
    const double fraction = std::clamp(double(done) / double(total_), 0.0, 1.0);
    char stats[160];
    std::snprintf(stats, sizeof stats, "%3.0f%% %.0f %s/s elapsed %s ETA %s", 100 * fraction, rate,
                  unit_.c_str(), format_duration(elapsed).c_str(),
                  final_line ? "0:00" : format_duration(eta).c_str());
    if (terminal_) {
        constexpr int kWidth = 30;
        const int filled = int(fraction * kWidth);
        std::string bar(filled, '#');
        bar.resize(kWidth, '.');
        std::fprintf(out_, "\r\033[K%s [%s] %s%s%s%s", label_.c_str(), bar.c_str(), stats,
                     note.empty() ? "" : " ", note.c_str(), final_line ? "\n" : "");
    } else {
        std::fprintf(out_, "%s: %s%s%s\n", label_.c_str(), stats, note.empty() ? "" : " ",
                     note.c_str());
    }
    std::fflush(out_);
}

}  // namespace twp
