// The CUDA emulation's grid runner: blocks one after another on the calling OS thread, the threads
// of a block as fibers (fiber.hpp) scheduled cooperatively in barrier phases:
//   1. every runnable thread runs, in the order of kernels/emu/schedule.hpp, until it blocks at
//      __syncthreads(), blocks at a warp operation, or exits;
//   2. barriers resolve: a warp operation completes when every lane of its mask that has not
//      exited has arrived; __syncthreads() completes when every thread of the block that has not
//      exited waits at it (exited threads drop out, as on a GPU), and all at the same call site;
//   3. the released threads form the next phase; if none is released while threads are alive,
//      the block can never finish: a deadlock or divergent barrier, reported as twp::Error.
// A block that fails (that, or an exception escaping a thread) is abandoned cleanly: each
// suspended fiber is resumed once to unwind its stack with an internal exception, so destructors
// run and the emulator is ready for the next launch.
//
// ThreadSanitizer (fiber.hpp explains why switches carry no synchronization): arriving at a
// barrier releases, and leaving it acquires, a sync object of that barrier phase (two per barrier,
// alternating, so that a fast thread's release for the next phase cannot reach a slow thread's
// acquire for this one). The host releases a block-start object that each thread acquires when it
// starts, and each thread releases a block-end object at exit that the host acquires when the
// block is over: so consecutive blocks reusing the same __shared__ arrays, and the host reading
// results, are ordered, while threads of one block are not ordered by each other's start or exit
// (one object for both would order thread t after thread t-1's exit and hide exactly the races
// we look for under the forward schedule).
#include "kernels/emu/emulation.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <exception>
#include <map>
#include <memory>
#include <new>
#include <numeric>
#include <sstream>
#include <utility>
#include <vector>

#include "engine/error.hpp"
#include "kernels/emu/fiber.hpp"

#if defined(TWP_EMU_TSAN)
#include <sanitizer/tsan_interface.h>
#endif

namespace twp::emu {
namespace {

constexpr unsigned kWarpSize = 32;
constexpr unsigned kMaxThreads = 1024;
constexpr unsigned kMaxWarps = kMaxThreads / kWarpSize;
// Fiber stacks are mapped lazily (MAP_NORESERVE): a kernel thread rarely touches more than a few
// pages, but sanitizers and deep helper calls get room.
constexpr std::size_t kFiberStackBytes = 256 * 1024;

TWP_EMU_NO_TSAN inline void tsan_release(void* sync_object) {
#if defined(TWP_EMU_TSAN)
    __tsan_release(sync_object);
#else
    (void)sync_object;
#endif
}
TWP_EMU_NO_TSAN inline void tsan_acquire(void* sync_object) {
#if defined(TWP_EMU_TSAN)
    __tsan_acquire(sync_object);
#else
    (void)sync_object;
#endif
}

enum class ThreadState { kRunnable, kAtBlockBarrier, kAtWarpOp, kExited };

struct EmulatedThread {
    explicit EmulatedThread(std::size_t stack_bytes) : fiber(stack_bytes) {}
    Fiber fiber;
    uint3 thread_idx{};
    unsigned linear = 0;  // x + y*bx + z*bx*by; lane = linear % 32, warp = linear / 32
    ThreadState state = ThreadState::kExited;
    bool started = false;             // has run at least once in this block
    const char* barrier_file = "";    // the __syncthreads() it waits at
    int barrier_line = 0;
};

struct WarpState {
    unsigned live = 0;      // lanes that exist and have not exited
    unsigned arrived = 0;   // lanes waiting at the pending operation
    unsigned mask = 0;      // the pending operation's member mask
    std::uint64_t generation = 0;
    // Indexed by generation parity: a lane may deposit for the next operation while slower lanes
    // still read this one's values.
    std::array<std::array<std::uint64_t, kWarpSize>, 2> values{};
    std::array<unsigned, 2> deposited{};  // lanes that put a value (shuffles do, __syncwarp not)
    std::array<char, 2> tsan_sync{};      // sync objects (only their addresses matter)
};

// Thrown inside a fiber to unwind it when its block is abandoned; caught by the fiber's entry.
struct AbandonBlock {};

struct AlignedDelete {
    void operator()(unsigned char* p) const { ::operator delete[](p, std::align_val_t{16}); }
};

class Emulator {
public:
    void run_grid(const LaunchSite& site, dim3 grid, dim3 block, std::size_t shared_bytes,
                  void (*run_thread)(void*), void* context);
    EmulatedThread& current(const char* what);
    uint3 block_idx() const { return block_idx_; }
    dim3 block_dim() const { return block_; }
    dim3 grid_dim() const { return grid_; }
    void* dynamic_shared() const { return shared_.get(); }
    void sync_threads(const char* file, int line);
    std::uint64_t warp_exchange(unsigned mask, WarpOp op, std::uint64_t bits, int operand, int width);
    void thread_main();

private:
    void prepare_threads(unsigned count);
    void run_block();
    void run_thread(EmulatedThread& thread);
    void release_barriers();
    void wait(EmulatedThread& thread);
    void abandon_block();
    [[noreturn]] void fail_stuck();
    std::string where() const;

    // The launch.
    LaunchSite site_{"", "", 0};
    dim3 grid_, block_;
    uint3 block_idx_{};
    void (*body_)(void*) = nullptr;
    void* body_context_ = nullptr;
    std::unique_ptr<unsigned char[], AlignedDelete> shared_;
    std::size_t shared_bytes_ = 0;
    bool running_ = false;

    // The block.
    std::vector<std::unique_ptr<EmulatedThread>> threads_;  // pool: grows, never shrinks
    unsigned block_threads_ = 0;
    unsigned live_ = 0;            // threads of the block that have not exited
    unsigned block_waiting_ = 0;   // threads at __syncthreads()
    std::uint64_t block_generation_ = 0;
    std::array<char, 2> block_sync_{};  // TSan sync objects of __syncthreads(), by parity
    char block_start_sync_ = 0;          // TSan sync objects: host -> threads at block start,
    char block_end_sync_ = 0;            // threads -> host at block end,
    char error_sync_ = 0;                // a failing thread -> host
    std::array<WarpState, kMaxWarps> warps_{};
    std::vector<unsigned> runnable_;     // the phase's run list (linear indices)
    EmulatedThread* current_ = nullptr;
    bool abandoning_ = false;
    // An exception that escaped a thread: the flag is what the host polls (std::exception_ptr's
    // own operations would be instrumented, and racy to TSan without error_sync_).
    bool has_thread_error_ = false;
    std::exception_ptr thread_error_;
    uint3 error_thread_{};
};

thread_local Emulator t_emulator;

TWP_EMU_NO_TSAN void fiber_entry() { t_emulator.thread_main(); }

TWP_EMU_NO_TSAN std::string Emulator::where() const {
    std::ostringstream text;
    text << "kernel '" << site_.kernel << "' (launched at " << site_.file << ":" << site_.line
         << "), block (" << block_idx_.x << ", " << block_idx_.y << ", " << block_idx_.z
         << ") of grid (" << grid_.x << ", " << grid_.y << ", " << grid_.z << "), block size ("
         << block_.x << ", " << block_.y << ", " << block_.z << ")";
    return text.str();
}

TWP_EMU_NO_TSAN EmulatedThread& Emulator::current(const char* what) {
    if (current_ == nullptr) TWP_FAIL("CUDA emulation: " << what << " used outside a running kernel");
    return *current_;
}

TWP_EMU_NO_TSAN void Emulator::run_grid(const LaunchSite& site, dim3 grid, dim3 block,
                                        std::size_t shared_bytes, void (*run_thread)(void*),
                                        void* context) {
    if (running_)
        TWP_FAIL("CUDA emulation: kernel '" << site.kernel << "' launched from inside " << where()
                                            << "; the emulation has no dynamic parallelism");
    const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
    TWP_CHECK(threads >= 1 && threads <= kMaxThreads,
              "CUDA emulation: kernel '" << site.kernel << "' launched with " << threads << " threads per block");
    current_schedule();  // reads TWP_EMU_SCHEDULE at the first launch (throws if it is invalid)
    if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;

    struct Reset {  // whatever happens, the next launch finds an idle emulator
        Emulator& e;
        TWP_EMU_NO_TSAN ~Reset() {
            e.running_ = false;
            e.current_ = nullptr;
            e.abandoning_ = false;
            e.shared_.reset();
            e.shared_bytes_ = 0;
        }
    } reset{*this};
    running_ = true;
    site_ = site;
    grid_ = grid;
    block_ = block;
    body_ = run_thread;
    body_context_ = context;
    // Exactly the bytes asked for, so that AddressSanitizer catches reads past the end.
    if (shared_bytes > 0)
        shared_.reset(new (std::align_val_t{16}) unsigned char[shared_bytes]);
    shared_bytes_ = shared_bytes;
    prepare_threads(static_cast<unsigned>(threads));

    for (unsigned z = 0; z < grid.z; ++z)
        for (unsigned y = 0; y < grid.y; ++y)
            for (unsigned x = 0; x < grid.x; ++x) {
                block_idx_ = uint3{x, y, z};
                run_block();
            }
}

TWP_EMU_NO_TSAN void Emulator::prepare_threads(unsigned count) {
    while (threads_.size() < count) threads_.push_back(std::make_unique<EmulatedThread>(kFiberStackBytes));
    block_threads_ = count;
    for (unsigned i = 0; i < count; ++i) {
        EmulatedThread& t = *threads_[i];
        t.linear = i;
        t.thread_idx = uint3{i % block_.x, (i / block_.x) % block_.y, i / (block_.x * block_.y)};
    }
    runnable_.reserve(count);
}

TWP_EMU_NO_TSAN void Emulator::run_block() {
    if (shared_bytes_ > 0) std::memset(shared_.get(), 0xFF, shared_bytes_);  // NaN as float
    for (unsigned i = 0; i < block_threads_; ++i) {
        EmulatedThread& t = *threads_[i];
        t.state = ThreadState::kRunnable;
        t.started = false;
        t.fiber.prepare(&fiber_entry);
    }
    live_ = block_threads_;
    block_waiting_ = 0;
    const unsigned warp_count = (block_threads_ + kWarpSize - 1) / kWarpSize;
    for (unsigned w = 0; w < warp_count; ++w) {
        const unsigned lanes = std::min(kWarpSize, block_threads_ - w * kWarpSize);
        warps_[w].live = lanes == kWarpSize ? ~0u : (1u << lanes) - 1;
        warps_[w].arrived = 0;
        warps_[w].mask = 0;
    }
    tsan_release(&block_start_sync_);  // the host's writes (arguments, shared poison) come first

    runnable_.resize(block_threads_);
    std::iota(runnable_.begin(), runnable_.end(), 0u);
    while (true) {
        detail::order_threads(runnable_);
        for (const unsigned index : runnable_) {
            run_thread(*threads_[index]);
            if (has_thread_error_) {
                tsan_acquire(&error_sync_);
                has_thread_error_ = false;
                const std::exception_ptr error = std::exchange(thread_error_, nullptr);
                const uint3 thread = error_thread_;
                abandon_block();
                try {
                    std::rethrow_exception(error);
                } catch (const std::exception& e) {
                    TWP_FAIL(where() << ", thread (" << thread.x << ", " << thread.y << ", "
                                     << thread.z << "): " << e.what());
                } catch (...) {
                    TWP_FAIL(where() << ", thread (" << thread.x << ", " << thread.y << ", "
                                     << thread.z << "): unknown exception");
                }
            }
        }
        if (live_ == 0) break;
        release_barriers();
        if (runnable_.empty()) fail_stuck();
    }
    tsan_acquire(&block_end_sync_);  // every thread's writes before the next block and the host
}

TWP_EMU_NO_TSAN void Emulator::run_thread(EmulatedThread& thread) {
    current_ = &thread;
    thread.started = true;
    thread.fiber.resume();
    current_ = nullptr;
}

// Fills runnable_ (in increasing linear index) with the threads whose barrier completed.
TWP_EMU_NO_TSAN void Emulator::release_barriers() {
    runnable_.clear();
    const unsigned warp_count = (block_threads_ + kWarpSize - 1) / kWarpSize;
    for (unsigned w = 0; w < warp_count; ++w) {
        WarpState& warp = warps_[w];
        if (warp.arrived == 0 || warp.arrived != (warp.mask & warp.live)) continue;
        for (unsigned lane = 0; lane < kWarpSize; ++lane)
            if (warp.arrived >> lane & 1u) {
                threads_[w * kWarpSize + lane]->state = ThreadState::kRunnable;
                runnable_.push_back(w * kWarpSize + lane);
            }
        warp.arrived = 0;
        ++warp.generation;
    }
    if (block_waiting_ == 0 || block_waiting_ != live_) return;
    // Everyone alive waits at a __syncthreads(); it must be the same one.
    const EmulatedThread* first = nullptr;
    for (unsigned i = 0; i < block_threads_; ++i) {
        const EmulatedThread& t = *threads_[i];
        if (t.state != ThreadState::kAtBlockBarrier) continue;
        if (first == nullptr) first = &t;
        if (t.barrier_line != first->barrier_line ||
            std::strcmp(t.barrier_file, first->barrier_file) != 0)
            fail_stuck();
    }
    for (unsigned i = 0; i < block_threads_; ++i)
        if (threads_[i]->state == ThreadState::kAtBlockBarrier) {
            threads_[i]->state = ThreadState::kRunnable;
            runnable_.push_back(i);
        }
    block_waiting_ = 0;
    ++block_generation_;
}

// No thread can proceed: explain who waits where, abandon the block, throw.
TWP_EMU_NO_TSAN void Emulator::fail_stuck() {
    std::map<std::pair<std::string, int>, int> at_barrier;
    unsigned at_warp_op = 0;
    for (unsigned i = 0; i < block_threads_; ++i) {
        const EmulatedThread& t = *threads_[i];
        if (t.state == ThreadState::kAtBlockBarrier) ++at_barrier[{t.barrier_file, t.barrier_line}];
        if (t.state == ThreadState::kAtWarpOp) ++at_warp_op;
    }
    std::ostringstream text;
    if (at_warp_op == 0 && at_barrier.size() > 1)
        text << "threads wait at different __syncthreads() (a barrier in divergent code, undefined "
                "behaviour in CUDA):";
    else
        text << "deadlock, no thread can proceed:";
    text << " " << live_ << " of " << block_threads_ << " threads alive";
    for (const auto& [place, count] : at_barrier)
        text << "; " << count << " at __syncthreads() " << place.first << ":" << place.second;
    const unsigned warp_count = (block_threads_ + kWarpSize - 1) / kWarpSize;
    for (unsigned w = 0; w < warp_count; ++w) {
        const WarpState& warp = warps_[w];
        if (warp.arrived == 0) continue;
        text << "; warp " << w << ": " << std::popcount(warp.arrived)
             << " lanes at a warp operation (arrived 0x" << std::hex << warp.arrived << ", mask 0x"
             << warp.mask << ", missing lanes 0x" << ((warp.mask & warp.live) & ~warp.arrived)
             << std::dec << ")";
    }
    const std::string message = text.str();
    abandon_block();
    TWP_FAIL(where() << ": " << message);
}

// Unwinds every suspended fiber (destructors run); threads that never started just end.
TWP_EMU_NO_TSAN void Emulator::abandon_block() {
    abandoning_ = true;
    for (unsigned i = 0; i < block_threads_; ++i) {
        EmulatedThread& t = *threads_[i];
        if (t.state == ThreadState::kExited) continue;
        if (t.started) {
            run_thread(t);  // throws AbandonBlock where it waits; its entry ends it
        } else {
            t.state = ThreadState::kExited;
            --live_;
        }
    }
    abandoning_ = false;
    block_waiting_ = 0;
    for (WarpState& warp : warps_) warp.arrived = 0;
    tsan_acquire(&block_end_sync_);
}

// The body of every fiber.
TWP_EMU_NO_TSAN void Emulator::thread_main() {
    EmulatedThread& t = *current_;
    t.fiber.started();
    tsan_acquire(&block_start_sync_);
    try {
        body_(body_context_);
    } catch (const AbandonBlock&) {
    } catch (...) {
        // The first error counts; one thrown while the block is abandoned adds nothing.
        if (!has_thread_error_ && !abandoning_) {
            thread_error_ = std::current_exception();
            error_thread_ = t.thread_idx;
            tsan_release(&error_sync_);
            has_thread_error_ = true;
        }
    }
    tsan_release(&block_end_sync_);
    t.state = ThreadState::kExited;
    --live_;
    warps_[t.linear / kWarpSize].live &= ~(1u << (t.linear % kWarpSize));
    t.fiber.finish();
}

// Fiber side: suspend until the host resumes this thread (its barrier completed, or the block is
// being abandoned).
TWP_EMU_NO_TSAN void Emulator::wait(EmulatedThread& thread) {
    thread.fiber.yield();
    if (abandoning_) throw AbandonBlock{};
}

TWP_EMU_NO_TSAN void Emulator::sync_threads(const char* file, int line) {
    EmulatedThread& t = current("__syncthreads()");
    const std::size_t parity = block_generation_ & 1;
    t.state = ThreadState::kAtBlockBarrier;
    t.barrier_file = file;
    t.barrier_line = line;
    ++block_waiting_;
    tsan_release(&block_sync_[parity]);
    wait(t);
    tsan_acquire(&block_sync_[parity]);
}

// CUDA's source-lane rule (PTX shfl.sync with c = ((32 - width) << 8) | 0x1f, or 0 for up): the
// source must lie in the caller's segment of `width` lanes, else the caller keeps its own value.
TWP_EMU_NO_TSAN unsigned shuffle_source(unsigned lane, WarpOp op, int operand, int width) {
    const unsigned b = static_cast<unsigned>(operand) & 31u;
    const unsigned segment_start = lane & ~unsigned(width - 1);
    const unsigned segment_end = segment_start + unsigned(width) - 1;
    switch (op) {
        case WarpOp::kIndex: return segment_start | (b & unsigned(width - 1));
        case WarpOp::kUp: return lane >= segment_start + b ? lane - b : lane;
        case WarpOp::kDown: return lane + b <= segment_end ? lane + b : lane;
        case WarpOp::kXor: return (lane ^ b) <= segment_end ? (lane ^ b) : lane;
        case WarpOp::kSync: break;
    }
    return lane;
}

TWP_EMU_NO_TSAN std::uint64_t Emulator::warp_exchange(unsigned mask, WarpOp op, std::uint64_t bits,
                                                      int operand, int width) {
    EmulatedThread& t = current(op == WarpOp::kSync ? "__syncwarp()" : "__shfl_*_sync()");
    const unsigned lane = t.linear % kWarpSize;
    WarpState& warp = warps_[t.linear / kWarpSize];
    if (!(mask >> lane & 1u))
        TWP_FAIL("lane " << lane << " of warp " << t.linear / kWarpSize << " calls a warp operation with mask 0x"
                         << std::hex << mask << std::dec << " that leaves it out (undefined in CUDA)");
    if (width < 1 || width > int(kWarpSize) || (width & (width - 1)) != 0)
        TWP_FAIL("shuffle width " << width << " is not a power of two in 1..32");
    const std::size_t parity = warp.generation & 1;
    if (warp.arrived == 0) {
        warp.mask = mask;
        warp.deposited[parity] = 0;
    } else if (warp.mask != mask) {
        TWP_FAIL("lanes of warp " << t.linear / kWarpSize << " meet at warp operations with masks 0x"
                                  << std::hex << warp.mask << " and 0x" << mask << std::dec
                                  << "; the emulation wants one mask per warp operation");
    }
    if (op != WarpOp::kSync) {
        warp.values[parity][lane] = bits;
        warp.deposited[parity] |= 1u << lane;
    }
    warp.arrived |= 1u << lane;
    t.state = ThreadState::kAtWarpOp;
    tsan_release(&warp.tsan_sync[parity]);
    wait(t);
    tsan_acquire(&warp.tsan_sync[parity]);
    if (op == WarpOp::kSync) return bits;
    const unsigned source = shuffle_source(lane, op, operand, width);
    return (warp.deposited[parity] >> source & 1u) ? warp.values[parity][source] : bits;
}

}  // namespace

// ---- the interface of emulation.hpp ----
void run_grid(const LaunchSite& site, dim3 grid, dim3 block, std::size_t shared_bytes,
              void (*run_thread)(void*), void* context) {
    t_emulator.run_grid(site, grid, block, shared_bytes, run_thread, context);
}
TWP_EMU_NO_TSAN uint3 thread_idx() { return t_emulator.current("threadIdx").thread_idx; }
TWP_EMU_NO_TSAN uint3 block_idx() {
    t_emulator.current("blockIdx");
    return t_emulator.block_idx();
}
TWP_EMU_NO_TSAN dim3 block_dim() {
    t_emulator.current("blockDim");
    return t_emulator.block_dim();
}
TWP_EMU_NO_TSAN dim3 grid_dim() {
    t_emulator.current("gridDim");
    return t_emulator.grid_dim();
}
TWP_EMU_NO_TSAN void* dynamic_shared_memory() {
    t_emulator.current("dynamic shared memory");
    return t_emulator.dynamic_shared();
}
void sync_threads(const char* file, int line) { t_emulator.sync_threads(file, line); }
std::uint64_t warp_exchange(unsigned mask, WarpOp op, std::uint64_t bits, int operand, int width) {
    return t_emulator.warp_exchange(mask, op, bits, operand, width);
}

}  // namespace twp::emu
