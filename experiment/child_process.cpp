// Starting and reaping the sweep's children; see child_process.hpp. Between fork and exec the
// child calls only async-signal-safe functions (dup2, prctl, execv, write, _exit): everything
// else (argv, file descriptors) is prepared before the fork.
#include "experiment/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/error.hpp"

namespace twp {

pid_t start_child(const std::filesystem::path& executable, const std::vector<std::string>& args,
                  const std::filesystem::path& log, bool append) {
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0644);
    if (log_fd < 0) {
        const int error_number = errno;
        TWP_FAIL("cannot open the log " << log.string() << ": " << std::strerror(error_number));
    }
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    std::vector<std::string> strings = {"twp"};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);
    const std::string path = executable.string();
    const char exec_failed[] = "twp: the sweep could not start this cell's twp (execv failed)\n";
    const pid_t parent = ::getpid();

    const pid_t pid = ::fork();
    if (pid == 0) {
        if (null_fd >= 0) ::dup2(null_fd, STDIN_FILENO);
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(128 + SIGTERM);  // the parent died before prctl took hold
        ::execv(path.c_str(), argv.data());
        const ssize_t ignored = ::write(STDERR_FILENO, exec_failed, sizeof exec_failed - 1);
        (void)ignored;
        ::_exit(127);
    }
    const int fork_error = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (pid < 0) TWP_FAIL("cannot start " << path << ": fork failed: " << std::strerror(fork_error));
    return pid;
}

ChildExit wait_for_child() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, 0)) < 0 && errno == EINTR) {
    }
    if (pid < 0) {
        const int error_number = errno;
        TWP_FAIL("waiting for the sweep's cells failed: " << std::strerror(error_number));
    }
    ChildExit exit;
    exit.pid = pid;
    if (WIFEXITED(status)) {
        exit.code = WEXITSTATUS(status);
        exit.how = "exit " + std::to_string(exit.code);
    } else if (WIFSIGNALED(status)) {
        exit.code = 128 + WTERMSIG(status);
        exit.how = "killed by signal " + std::to_string(WTERMSIG(status)) + " (" + strsignal(WTERMSIG(status)) + ")";
    } else {
        exit.code = 1;
        exit.how = "ended with status " + std::to_string(status);
    }
    return exit;
}

}  // namespace twp
