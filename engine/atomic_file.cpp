// Atomic file replacement via write-temp, fsync, rename, fsync-directory (see atomic_file.hpp).
// POSIX only: uses open/write/fsync/rename directly because std::ofstream can neither fsync nor
// report why a write failed.
#include "engine/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.hpp"

namespace twp {
namespace {

// Text of errno captured right after the failing call (later calls may overwrite errno).
std::string os_reason(int error_number) { return std::strerror(error_number); }

// What the user can do about a failed create or write, by cause.
std::string hint_for(int error_number) {
    switch (error_number) {
        case ENOENT:
        case ENOTDIR:
            return "; check that the directory exists (and that no part of the path is a regular "
                   "file)";
        case EACCES:
        case EPERM:
        case EROFS:
            return "; check that the directory is writable (permissions, a read-only mount) or "
                   "write elsewhere";
        case ENOSPC:
        case EDQUOT:
        case EFBIG:
            return "; the disk, a quota or the file size limit is full: free space or write "
                   "elsewhere";
        default:
            return "; check that the directory exists and is writable and that the disk has free "
                   "space";
    }
}

// Closes the descriptor and unlinks the temporary file unless `release()` was called: every early
// exit (a throw from any step) cleans up, so no "<name>.<pid>.tmp" is left behind.
class TempFileGuard {
public:
    TempFileGuard(std::string temp_path, int open_fd) : fd(open_fd), temp_path_(std::move(temp_path)) {}
    TempFileGuard(const TempFileGuard&) = delete;
    TempFileGuard& operator=(const TempFileGuard&) = delete;
    ~TempFileGuard() {
        if (fd >= 0) ::close(fd);
        if (!released_) ::unlink(temp_path_.c_str());  // best effort; destructors never throw
    }
    void release() { released_ = true; }

    int fd = -1;

private:
    std::string temp_path_;
    bool released_ = false;
};

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes) {
    TWP_CHECK(!path.empty() && path.has_filename(),
              "write_file_atomically: '" << path.string() << "' is not a file path");

    const std::filesystem::path directory =
        path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const std::string temp_path =
        (directory / (path.filename().string() + "." + std::to_string(::getpid()) + ".tmp")).string();
    const int temp_fd = ::open(temp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (temp_fd < 0) {
        const int error_number = errno;
        TWP_FAIL("cannot create temporary file '" << temp_path << "' to write '" << path.string()
                                                  << "': " << os_reason(error_number)
                                                  << hint_for(error_number));
    }
    TempFileGuard guard(temp_path, temp_fd);  // from here on, every exit removes the temporary

    // write() may write fewer bytes than asked (signals, pipes, quotas), so loop until done.
    const char* cursor = bytes.data();
    size_t remaining = bytes.size();
    while (remaining > 0) {
        const ssize_t written = ::write(guard.fd, cursor, remaining);
        if (written < 0) {
            if (errno == EINTR) continue;
            const int error_number = errno;
            TWP_FAIL("cannot write '" << path.string() << "' (" << (bytes.size() - remaining)
                                      << " of " << bytes.size() << " bytes written to '" << temp_path
                                      << "'): " << os_reason(error_number)
                                      << hint_for(error_number));
        }
        cursor += written;
        remaining -= static_cast<size_t>(written);
    }

    // Without fsync, a crash after the rename could leave the new name pointing at a file whose
    // data never reached the disk (zero-length or garbage on some filesystems).
    if (::fsync(guard.fd) != 0) {
        const int error_number = errno;
        TWP_FAIL("cannot flush '" << temp_path << "' to disk while writing '" << path.string()
                                  << "': " << os_reason(error_number) << hint_for(error_number));
    }
    // close() can report deferred write errors (NFS, quotas); a failed close means lost data.
    const int fd = guard.fd;
    guard.fd = -1;
    if (::close(fd) != 0) {
        const int error_number = errno;
        TWP_FAIL("cannot close '" << temp_path << "' while writing '" << path.string()
                                  << "': " << os_reason(error_number) << hint_for(error_number));
    }

    if (::rename(temp_path.c_str(), path.c_str()) != 0) {
        const int error_number = errno;
        TWP_FAIL("cannot rename '" << temp_path << "' to '" << path.string()
                                   << "': " << os_reason(error_number)
                                   << "; check that the target is not a directory and is writable");
    }
    guard.release();  // the temporary name no longer exists; it is now the final file

    // The rename lives in the directory's entries; fsync the directory so it survives power loss.
    const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0) {
        const int error_number = errno;
        TWP_FAIL("wrote '" << path.string() << "' but cannot open its directory '"
                           << directory.string() << "' to flush it: " << os_reason(error_number));
    }
    const int sync_result = ::fsync(directory_fd);
    const int sync_errno = errno;
    ::close(directory_fd);
    // Some filesystems do not support fsync on directories (EINVAL); the rename is still atomic.
    if (sync_result != 0 && sync_errno != EINVAL) {
        TWP_FAIL("wrote '" << path.string() << "' but cannot flush its directory '"
                           << directory.string() << "' to disk: " << os_reason(sync_errno)
                           << "; the new file may not survive a power loss");
    }
}

void create_directories_checked(const std::filesystem::path& directory) {
    std::error_code error;
    std::filesystem::create_directories(directory, error);
    if (error) {
        TWP_FAIL("cannot create directory '" << directory.string() << "': " << error.message()
                                             << "; check the path, permissions and free space");
    }
    // create_directories reports success when the path already exists, even as a regular file.
    TWP_CHECK(std::filesystem::is_directory(directory, error),
              "'" << directory.string()
                  << "' exists but is not a directory; remove it or choose another path");
}

}  // namespace twp
