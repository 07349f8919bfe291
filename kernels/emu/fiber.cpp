// Fiber: ucontext switching plus the sanitizer annotations (see fiber.hpp).
#include "kernels/emu/fiber.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "engine/error.hpp"

#if defined(TWP_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(TWP_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#if !defined(TWP_EMU_UCONTEXT)
// twp_emu_switch_stack(save, next): pushes the callee-saved registers (System V x86-64 ABI: rbp,
// rbx, r12-r15) and the SSE/x87 control words on the current stack, stores the stack pointer in
// *save, switches to the stack `next` (saved the same way, or laid out by Fiber::prepare) and pops
// its registers; `ret` then continues wherever that stack was suspended (or starts the entry).
// No CFI is needed: exceptions are thrown only after the switch has returned.
extern "C" void twp_emu_switch_stack(void** save, void* next);
asm(R"(
    .text
    .globl twp_emu_switch_stack
    .type twp_emu_switch_stack, @function
twp_emu_switch_stack:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size twp_emu_switch_stack, .-twp_emu_switch_stack
)");
#endif

namespace twp::emu {
namespace {

// The context of the OS thread that runs blocks: where fibers return to.
struct HostContext {
#if defined(TWP_EMU_UCONTEXT)
    ucontext_t context{};
#else
    void* stack_pointer = nullptr;
#endif
    void* tsan_fiber = nullptr;
    void* asan_fake_stack = nullptr;
    const void* asan_stack_bottom = nullptr;
    std::size_t asan_stack_bytes = 0;
};
thread_local HostContext t_host;

}  // namespace

TWP_EMU_NO_TSAN Fiber::Fiber(std::size_t stack_bytes) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    stack_bytes_ = (stack_bytes + page - 1) / page * page;
    mapping_bytes_ = stack_bytes_ + page;
    // MAP_NORESERVE: only the pages a thread touches cost memory, so generous stacks are cheap.
    void* mapping = mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mapping == MAP_FAILED)
        TWP_FAIL("CUDA emulation: cannot map a " << mapping_bytes_ << "-byte fiber stack: "
                                                 << std::strerror(errno));
    if (mprotect(mapping, page, PROT_NONE) != 0) {
        const int error = errno;
        munmap(mapping, mapping_bytes_);
        TWP_FAIL("CUDA emulation: cannot protect a fiber stack's guard page: " << std::strerror(error));
    }
    stack_mapping_ = mapping;
    stack_bottom_ = static_cast<char*>(mapping) + page;
#if defined(TWP_EMU_TSAN)
    tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

TWP_EMU_NO_TSAN Fiber::~Fiber() {
#if defined(TWP_EMU_TSAN)
    __tsan_destroy_fiber(tsan_fiber_);
#endif
    munmap(stack_mapping_, mapping_bytes_);
}

TWP_EMU_NO_TSAN void Fiber::prepare(void (*entry)()) {
#if defined(TWP_EMU_ASAN)
    // The previous run ended inside frames that never returned (finish() does not), so their
    // redzones are still poisoned; a fresh run must not trip over them.
    __asan_unpoison_memory_region(stack_bottom_, stack_bytes_);
#endif
#if defined(TWP_EMU_UCONTEXT)
    if (getcontext(&context_) != 0)
        TWP_FAIL("CUDA emulation: getcontext failed: " << std::strerror(errno));
    context_.uc_stack.ss_sp = stack_bottom_;
    context_.uc_stack.ss_size = stack_bytes_;
    context_.uc_link = nullptr;  // entry never returns: it ends with finish()
    makecontext(&context_, entry, 0);
#else
    // The frame twp_emu_switch_stack pops, from the new stack pointer up: the control words, six
    // registers (zero), the address `ret` jumps to (entry) and a null return address for entry,
    // which ends a debugger's backtrace. entry then starts with rsp = 8 (mod 16), as after a call.
    auto* top = reinterpret_cast<std::uint64_t*>(static_cast<char*>(stack_bottom_) + stack_bytes_);
    std::uint64_t* frame = top - 9;  // 9 slots of 8 bytes; top is 16-aligned, so the ret slot is too
    std::uint32_t control[2] = {0, 0};
    asm volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(control[0]), "=m"(control[1]));
    std::memcpy(&frame[0], control, sizeof control);
    for (int i = 1; i <= 6; ++i) frame[i] = 0;
    frame[7] = reinterpret_cast<std::uint64_t>(entry);
    frame[8] = 0;
    stack_pointer_ = frame;
#endif
}

TWP_EMU_NO_TSAN void Fiber::resume() {
#if defined(TWP_EMU_TSAN)
    t_host.tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(tsan_fiber_, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(TWP_EMU_ASAN)
    __sanitizer_start_switch_fiber(&t_host.asan_fake_stack, stack_bottom_, stack_bytes_);
#endif
#if defined(TWP_EMU_UCONTEXT)
    swapcontext(&t_host.context, &context_);
#else
    twp_emu_switch_stack(&t_host.stack_pointer, stack_pointer_);
#endif
#if defined(TWP_EMU_ASAN)
    __sanitizer_finish_switch_fiber(t_host.asan_fake_stack, nullptr, nullptr);
#endif
}

TWP_EMU_NO_TSAN void Fiber::yield() {
#if defined(TWP_EMU_TSAN)
    __tsan_switch_to_fiber(t_host.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(TWP_EMU_ASAN)
    __sanitizer_start_switch_fiber(&asan_fake_stack_, t_host.asan_stack_bottom, t_host.asan_stack_bytes);
#endif
#if defined(TWP_EMU_UCONTEXT)
    swapcontext(&context_, &t_host.context);
#else
    twp_emu_switch_stack(&stack_pointer_, t_host.stack_pointer);
#endif
#if defined(TWP_EMU_ASAN)
    __sanitizer_finish_switch_fiber(asan_fake_stack_, &t_host.asan_stack_bottom, &t_host.asan_stack_bytes);
#endif
}

TWP_EMU_NO_TSAN void Fiber::started() {
#if defined(TWP_EMU_ASAN)
    // Learns the host stack's bounds, which yield() and finish() announce when switching back.
    __sanitizer_finish_switch_fiber(nullptr, &t_host.asan_stack_bottom, &t_host.asan_stack_bytes);
#endif
}

TWP_EMU_NO_TSAN void Fiber::finish() {
#if defined(TWP_EMU_TSAN)
    __tsan_switch_to_fiber(t_host.tsan_fiber, __tsan_switch_to_fiber_no_sync);
#endif
#if defined(TWP_EMU_ASAN)
    // nullptr: this run of the fiber is over, ASan may drop its fake stack.
    __sanitizer_start_switch_fiber(nullptr, t_host.asan_stack_bottom, t_host.asan_stack_bytes);
#endif
#if defined(TWP_EMU_UCONTEXT)
    setcontext(&t_host.context);
#else
    void* abandoned = nullptr;  // this run's registers are never needed again
    twp_emu_switch_stack(&abandoned, t_host.stack_pointer);
#endif
    __builtin_unreachable();  // nothing resumes a finished fiber before prepare()
}

}  // namespace twp::emu
