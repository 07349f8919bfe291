// Child processes for sweeps: another twp started with its own argument list, stdout and stderr
// going to a log file, stdin from /dev/null. A child is sent SIGTERM when the process that
// started it dies (Linux's PR_SET_PDEATHSIG), so a killed sweep leaves no cell running unseen;
// Ctrl-C reaches the children anyway, as they share the terminal's process group.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace twp {

// Starts `executable` with argv[1..] = `args`, its output to `log` (appended when `append`, else
// the file is replaced). Throws twp::Error naming the log or the executable when it cannot.
pid_t start_child(const std::filesystem::path& executable, const std::vector<std::string>& args,
                  const std::filesystem::path& log, bool append);

struct ChildExit {
    pid_t pid = -1;
    int code = 0;        // the exit status, or 128 + the signal that ended it
    std::string how;     // "exit 1", "killed by signal 9 (Killed)"
};

// Waits for the next child of this process to end.
ChildExit wait_for_child();

}  // namespace twp
