// Errors: one exception type for everything twp can fail at, carrying what failed, where (file
// and line) and, where we know it, what the user can do about it. `main` catches it, prints the
// message once and exits non-zero. Preconditions are checked where data enters (readers,
// launchers, the CLI), never deep inside a hot loop.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace twp {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Builds "message (file:line)" and throws twp::Error. The message is streamed, so callers write
// TWP_FAIL("bad magic " << magic << " in " << path).
[[noreturn]] inline void throw_error(const std::string& message, const char* file, int line) {
    std::ostringstream text;
    text << message << " [" << file << ":" << line << "]";
    throw Error(text.str());
}

}  // namespace twp

#define TWP_FAIL(stream_expr)                                            \
    do {                                                                 \
        std::ostringstream twp_fail_message_;                            \
        twp_fail_message_ << stream_expr;                                \
        ::twp::throw_error(twp_fail_message_.str(), __FILE__, __LINE__); \
    } while (0)

// Checks a precondition; on failure throws with the condition's text and the streamed message.
#define TWP_CHECK(cond, stream_expr)                        \
    do {                                                    \
        if (!(cond)) TWP_FAIL(stream_expr << " (check `" #cond "` failed)"); \
    } while (0)
