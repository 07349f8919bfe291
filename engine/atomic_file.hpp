// Atomic file replacement: a file we write (a checkpoint, a results table) is either the complete
// old version or the complete new one, never a half-written mix, even if the process or the
// machine dies mid-write. We write a temporary file next to the target (same directory, so the
// final rename stays on one filesystem and is atomic), fsync it, rename it over the target and
// fsync the directory so the rename itself survives a power loss.
// Precondition: one writer per target path per process at a time (the temporary name is
// "<final name>.<pid>.tmp", so two threads writing the same path would share it).
#pragma once

#include <filesystem>
#include <string_view>

namespace twp {

// Replaces `path` with exactly `bytes`. On failure the temporary file is removed, the previous
// content of `path` (if any) is untouched, and twp::Error names the path and the OS reason.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Like std::filesystem::create_directories, but throws twp::Error naming the directory and the
// reason (and succeeds silently when the directory already exists).
void create_directories_checked(const std::filesystem::path& directory);

}  // namespace twp
