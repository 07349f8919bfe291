// One emulated CUDA thread's execution context: its own stack (mmap'd, with a guard page below it
// so that an overflow faults instead of corrupting a neighbour), switched to and from the OS thread
// that runs the block (the "host" context). Fibers are created once and reused for every block and
// launch; prepare() restarts one without allocating.
//
// The switch: on x86-64 a dozen instructions (fiber.cpp: save the callee-saved registers and the
// FP control words on the old stack, load the new stack pointer, restore, return), about 20x faster
// than swapcontext, which makes a sigprocmask system call every time; elsewhere, or with
// -DTWP_EMU_UCONTEXT, makecontext/swapcontext.
//
// Sanitizers, when the emulator is compiled with them:
// - ThreadSanitizer: each Fiber is a TSan fiber, switched with __tsan_switch_to_fiber(..., no_sync),
//   so a switch implies NO happens-before: only the emulator's explicit annotations at barriers
//   (emulation.cpp) order emulated threads, and TSan reports exactly the unsynchronized accesses.
// - AddressSanitizer: the stack switches are announced with __sanitizer_start/finish_switch_fiber
//   so that ASan does not mistake a fiber stack for stack corruption.
#pragma once

#include <cstddef>

#if !defined(__x86_64__) && !defined(TWP_EMU_UCONTEXT)
#define TWP_EMU_UCONTEXT 1
#endif
#if defined(TWP_EMU_UCONTEXT)
#include <ucontext.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define TWP_EMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TWP_EMU_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TWP_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TWP_EMU_ASAN 1
#endif
#endif

// The emulator's own bookkeeping is shared between fibers and the host context with no
// happens-before TSan could see (the switches are deliberately unsynchronized), so the functions
// touching it are not instrumented; kernel code (compiled elsewhere) is.
#if defined(TWP_EMU_TSAN)
#define TWP_EMU_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define TWP_EMU_NO_TSAN
#endif

namespace twp::emu {

class Fiber {
public:
    explicit Fiber(std::size_t stack_bytes);
    ~Fiber();
    Fiber(const Fiber&) = delete;
    Fiber& operator=(const Fiber&) = delete;

    // Makes the next resume() start entry() from the top, forgetting any earlier run. entry must
    // call started() first and end with finish(); it never returns.
    void prepare(void (*entry)());
    // Host side: runs the fiber until it calls yield() or finish().
    void resume();
    // Fiber side: back to the host; returns when the host resumes this fiber again.
    void yield();
    // Fiber side, first statement of entry.
    void started();
    // Fiber side, last statement of entry: back to the host for good.
    [[noreturn]] void finish();

private:
#if defined(TWP_EMU_UCONTEXT)
    ucontext_t context_{};
#else
    void* stack_pointer_ = nullptr;  // where the fiber's registers were saved
#endif
    void* stack_mapping_ = nullptr;  // guard page + stack
    std::size_t mapping_bytes_ = 0;
    void* stack_bottom_ = nullptr;   // lowest usable address
    std::size_t stack_bytes_ = 0;
    void* tsan_fiber_ = nullptr;
    void* asan_fake_stack_ = nullptr;
};

}  // namespace twp::emu
