#!/usr/bin/python3
"""The kernel resource gate: what a GPU would refuse, found without one.

Compiles every kernel source for sm_90 the way twp_kernels_cuda does (same includes, -std=c++17,
--expt-relaxed-constexpr, the Release -O3), device code only (-cubin: no host compiler, one
architecture), with ptxas's resource report (--resource-usage). That gives each kernel's
registers, spills, stack frame and static shared memory, the same figures as the sm_90 code of the
real build (checked when the gate was written: identical for every kernel). The launch facts the
binary cannot tell, the threads per block and the largest dynamic shared memory each launcher asks
for, come from kernels/launch_limits.tsv. The join is printed as a table; the gate fails when
- a kernel (or a device function it calls) spills registers to local memory;
- a block needs more registers than an SM has (sm_90: 65,536, allocated per warp in units of 256:
  ceil(T / 32) * roundup(regs * 32, 256)), or more than 1024 threads;
- static + dynamic shared memory exceeds 48 KiB in a launch that kernels::launch does not opt in
  for (it opts in when the dynamic part exceeds 48 KiB, kernels/launch.hpp), or 227 KiB at all;
- a kernel of the binary has no row in the table, or a row names a kernel that does not exist.

Used by ctest kernel_resources (CMakeLists.txt passes the nvcc, flags and sources of the build);
standalone from the repository root it reads the sources from kernels/sources.cmake:
    tools/kernel_resources.py              # the table and the verdict
    tools/kernel_resources.py --markdown   # the table for kernels/README.md
Python 3 standard library only; c++filt (binutils) demangles the kernels' names.
"""

import argparse
import concurrent.futures
import math
import os
import re
import shlex
import subprocess
import sys
import time

# sm_90 (H100/H200) limits.
REGISTERS_PER_BLOCK = 65536     # 32-bit registers per SM, and per block
REGISTER_GRANULE = 256          # registers are allocated per warp in units of 256
MAX_REGISTERS_PER_THREAD = 255
MAX_THREADS_PER_BLOCK = 1024
DEFAULT_SHARED = 48 * 1024      # per block without cudaFuncSetAttribute (kDefaultSharedBytes)
MAX_SHARED_OPT_IN = 227 * 1024  # per block with it (kMaxSharedBytes, launch.hpp)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nvcc", default=None, help="nvcc (default: /usr/local/cuda/bin/nvcc or PATH)")
    p.add_argument("--cxxfilt", default="c++filt", help="the demangler (binutils' c++filt)")
    p.add_argument("--source-dir", default=ROOT,
                   help="repository root (sources are relative to it)")
    p.add_argument("--table", default=None,
                   help="launch facts (default: kernels/launch_limits.tsv)")
    p.add_argument("--arch", default="sm_90")
    p.add_argument("--flags", default="-O3 -DNDEBUG",
                   help="nvcc flags of the build (CMAKE_CUDA_FLAGS, Release flags), one string")
    p.add_argument("--include", action="append", default=[], help="extra -isystem directory")
    p.add_argument("--jobs", type=int, default=0,
                   help="parallel nvcc runs (default: the cores, at most 4)")
    p.add_argument("--only", action="append", default=[],
                   help="check only this source (its table rows only); repeatable")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("sources", nargs="*", help="kernel sources (default: TWP_KERNEL_SOURCES)")
    return p.parse_args()


def kernel_sources(source_dir):
    """TWP_KERNEL_SOURCES from kernels/sources.cmake."""
    with open(os.path.join(source_dir, "kernels", "sources.cmake")) as f:
        text = f.read()
    block = re.search(r"set\(TWP_KERNEL_SOURCES(.*?)\)", text, re.S)
    if not block:
        sys.exit("kernel_resources: no TWP_KERNEL_SOURCES in kernels/sources.cmake")
    return [s for s in re.findall(r"\S+\.cu\b", re.sub(r"#.*", "", block.group(1)))]


def read_table(path):
    """{(source, kernel): (threads, max_dynamic, where)}; exits on a malformed row."""
    rows, problems = {}, []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 5 or not fields[2].isdigit() or not fields[3].isdigit():
                problems.append(f"{path}:{number}: expected source<TAB>kernel<TAB>threads<TAB>"
                                f"max_dynamic_shared<TAB>where, got {line!r}")
                continue
            key = (fields[0], fields[1])
            if key in rows:
                problems.append(f"{path}:{number}: {fields[0]} {fields[1]} listed twice")
            rows[key] = (int(fields[2]), int(fields[3]), fields[4])
    if problems:
        sys.exit("kernel_resources: malformed table\n  " + "\n  ".join(problems))
    return rows


def compile_one(nvcc, source_dir, source, arch, flags, includes):
    """ptxas's report for one source: (source, text). Raises on a failed compile."""
    command = [nvcc, "-cubin", f"-arch={arch}", "--resource-usage", "-std=c++17",
               "--expt-relaxed-constexpr", f"-I{source_dir}"]
    command += [f"-isystem={d}" for d in includes] + shlex.split(flags)
    command += ["-o", os.devnull, os.path.join(source_dir, source)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}\n{result.stdout}{result.stderr}")
    return source, result.stdout + result.stderr


def parse_ptxas(text, arch):
    """{mangled: {entry, registers, stack, spill_stores, spill_loads, static_shared}}.

    ptxas prints, per function (entry or not):
      ptxas info    : Compiling entry function '<mangled>' for 'sm_90'
      ptxas info    : Function properties for <mangled>
          16 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
      ptxas info    : Used 40 registers, used 1 barriers, 16 bytes cumulative stack size,
                      1024 bytes smem  (one line)
    """
    functions, current, properties_of, other_arch = {}, None, None, False
    for line in text.splitlines():
        m = re.search(r"Compiling (?:entry )?function '([^']+)' for '([^']+)'", line)
        if m:
            other_arch = m.group(2) != arch
            current = None if other_arch or "entry function" not in line else m.group(1)
            if current:
                functions.setdefault(current, {"entry": True})
            continue
        m = re.search(r"Function properties for (\S+)", line)
        if m:
            properties_of = None if other_arch else m.group(1)
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                      r"(\d+) bytes spill loads", line)
        if m and properties_of:
            f = functions.setdefault(properties_of, {"entry": False})
            f["stack"], f["spill_stores"], f["spill_loads"] = map(int, m.groups())
            properties_of = None
            continue
        m = re.search(r"Used (\d+) registers", line)
        if m and current:
            f = functions[current]
            f["registers"] = int(m.group(1))
            smem = re.search(r"(\d+) bytes smem", line)
            f["static_shared"] = int(smem.group(1)) if smem else 0
            current = None
    return functions


def demangle(names, cxxfilt):
    try:
        result = subprocess.run([cxxfilt], input="\n".join(names) + "\n", capture_output=True,
                                text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as error:
        sys.exit(f"kernel_resources: cannot demangle with {cxxfilt} (binutils): {error}")
    demangled = result.stdout.splitlines()
    if len(demangled) != len(names):
        sys.exit(f"kernel_resources: {cxxfilt} returned {len(demangled)} names for {len(names)}")
    return dict(zip(names, demangled))


def kernel_key(demangled):
    """'void twp::kernels::(anonymous namespace)::sum_kernel<float, double>(float const*, ...)'
    -> 'sum_kernel<float, double>': no namespaces, return type or parameters; template arguments
    kept (they tell instantiations apart)."""
    name = demangled.replace("(anonymous namespace)::", "")
    # Drop the parameter list: the last parenthesis group at template depth 0.
    depth, cut = 0, len(name)
    for i in range(len(name) - 1, -1, -1):
        c = name[i]
        if c == ")":
            depth += 1
        elif c == "(":
            depth -= 1
            if depth == 0:
                cut = i
                break
    name = name[:cut]
    # Split off the return type (templates have one) and the qualifiers, outside <...>.
    depth, start = 0, 0
    for i, c in enumerate(name):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif depth == 0 and c == " ":
            start = i + 1
        elif depth == 0 and c == ":" and name[i:i + 2] == "::":
            start = i + 2
    return name[start:]


def registers_per_block(registers, threads):
    per_warp = math.ceil(registers * 32 / REGISTER_GRANULE) * REGISTER_GRANULE
    return math.ceil(threads / 32) * per_warp


def check(kernel, facts):
    """The violations of one joined row, as text."""
    problems = []
    regs, threads, static, dynamic = (kernel["registers"], facts[0], kernel["static_shared"],
                                      facts[1])
    if kernel["spill_stores"] or kernel["spill_loads"]:
        problems.append(f"spills {kernel['spill_stores']} bytes (stores) / "
                        f"{kernel['spill_loads']} bytes (loads) to local memory")
    if regs > MAX_REGISTERS_PER_THREAD:
        problems.append(f"{regs} registers per thread, at most {MAX_REGISTERS_PER_THREAD}")
    if not 1 <= threads <= MAX_THREADS_PER_BLOCK:
        problems.append(f"{threads} threads per block, 1 to {MAX_THREADS_PER_BLOCK}")
    block_registers = registers_per_block(regs, threads)
    if block_registers > REGISTERS_PER_BLOCK:
        per_warp = math.ceil(regs * 32 / REGISTER_GRANULE) * REGISTER_GRANULE
        allowed = min(MAX_THREADS_PER_BLOCK, REGISTERS_PER_BLOCK // per_warp * 32)
        problems.append(f"{threads} threads x {regs} registers need {block_registers} registers "
                        f"per block, more than {REGISTERS_PER_BLOCK} (at most {allowed} threads)")
    # kernels::launch opts in only when the dynamic part alone exceeds 48 KiB, so every launch
    # with at most 48 KiB dynamic (up to min(max, 48 KiB)) must fit in 48 KiB with the static part.
    unopted = static + min(dynamic, DEFAULT_SHARED)
    if unopted > DEFAULT_SHARED:
        problems.append(f"{static} bytes static + up to {min(dynamic, DEFAULT_SHARED)} dynamic "
                        f"shared memory = {unopted} > {DEFAULT_SHARED} without the opt-in "
                        f"(kernels::launch opts in only above {DEFAULT_SHARED} dynamic bytes)")
    if static + dynamic > MAX_SHARED_OPT_IN:
        problems.append(f"{static} bytes static + {dynamic} dynamic shared memory > "
                        f"{MAX_SHARED_OPT_IN}, the opt-in maximum")
    return problems


def main():
    args = parse_args()
    start = time.monotonic()
    nvcc = args.nvcc or ("/usr/local/cuda/bin/nvcc" if os.path.exists("/usr/local/cuda/bin/nvcc")
                         else "nvcc")
    table_path = args.table or os.path.join(args.source_dir, "kernels", "launch_limits.tsv")
    table = read_table(table_path)
    table_name = os.path.relpath(table_path, args.source_dir)
    if table_name.startswith(".."):
        table_name = table_path
    sources = args.sources or kernel_sources(args.source_dir)
    sources = [os.path.relpath(os.path.join(args.source_dir, s), args.source_dir) for s in sources]
    if args.only:
        only = {os.path.relpath(os.path.join(args.source_dir, s), args.source_dir)
                for s in args.only}
        sources = [s for s in sources if s in only]
        table = {key: row for key, row in table.items() if key[0] in only}
    jobs = args.jobs or min(4, os.cpu_count() or 1)

    reports = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(compile_one, nvcc, args.source_dir, s, args.arch, args.flags,
                               args.include) for s in sources]
        for future in concurrent.futures.as_completed(futures):
            try:
                source, text = future.result()
            except RuntimeError as error:
                sys.exit(f"kernel_resources: compile failed:\n{error}")
            reports[source] = parse_ptxas(text, args.arch)

    all_names = [name for functions in reports.values() for name in functions]
    names = demangle(all_names, args.cxxfilt) if all_names else {}
    failures, rows, seen = [], [], set()
    for source in sources:
        by_name = sorted(reports[source].items(), key=lambda item: kernel_key(names[item[0]]))
        for mangled, f in by_name:
            key = kernel_key(names[mangled])
            if "spill_stores" not in f or (f["entry"] and "registers" not in f):
                failures.append(f"{source} {key}: could not read ptxas's report "
                                "(has its format changed?)")
                continue
            if not f["entry"]:
                # A device function ptxas kept out of line: its spills count as its callers'.
                if f["spill_stores"] or f["spill_loads"]:
                    failures.append(f"{source} {key} (device function): spills {f['spill_stores']} "
                                    f"/ {f['spill_loads']} bytes")
                continue
            if (source, key) not in table:
                failures.append(f"{source} {key}: not in {table_name} (register the kernel: "
                                "threads per block, max dynamic shared memory, where from)")
                continue
            seen.add((source, key))
            facts = table[(source, key)]
            for problem in check(f, facts):
                failures.append(f"{source} {key}: {problem}")
            rows.append((source, key, f, facts))
    for key in sorted(set(table) - seen):
        failures.append(f"{key[0]} {key[1]}: listed in the table but not a kernel of the "
                        f"{args.arch} build (removed or renamed? update the table)")
    if not rows and not failures:
        failures.append("no kernel found in ptxas's output (has its format changed?)")

    header = ["source", "kernel", "registers", "spills (st/ld)", "stack", "static smem",
              "max dynamic smem", "threads", "registers / block"]
    lines = []
    for source, key, f, (threads, dynamic, _) in rows:
        lines.append([os.path.basename(source), key, str(f["registers"]),
                      f"{f['spill_stores']}/{f['spill_loads']}", str(f["stack"]),
                      str(f["static_shared"]), str(dynamic), str(threads),
                      str(registers_per_block(f["registers"], threads))])
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" if i < 2 else "--:" for i in range(len(header))) + "|")
        for line in lines:
            line[1] = f"`{line[1]}`"
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(r[i]) for r in [header] + lines) for i in range(len(header))]
        for r in [header] + lines:
            cells = (c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
            print("  ".join(cells))
    elapsed = time.monotonic() - start
    out = sys.stderr if args.markdown else sys.stdout  # --markdown: only the table on stdout
    print(f"\n{len(rows)} kernels from {len(sources)} sources, {args.arch}, nvcc {args.flags}, "
          f"{jobs} jobs, {elapsed:.1f} s", file=out)
    if failures:
        print(f"FAIL: {len(failures)} problem(s):", file=out)
        for failure in failures:
            print("  " + failure, file=out)
        return 1
    print(f"PASS: no spills; every block within {args.arch}'s registers, threads and shared memory",
          file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
