"""Where a cold start's CPU goes, from `perf script -F comm,pid,time,ip,sym` output.

Every process of a binary counts from its first sample for WINDOW seconds: exec, the dynamic
loader, init and the cold request (which the benchmark sends as soon as the process starts).
Each sample is a call stack (leaf first) and counts for the first part, in the order below,
that its stack passes through. Milliseconds are samples per process over the sampling rate:
CPU under perf, somewhat above the benchmark's figures; compare the parts and the binaries.
Used by `scripts/profile cold`; docs/PERFORMANCE.md quotes its output.
"""

import collections
import re
import sys

WINDOW = 0.040
RATE = 9999  # perf record -F in scripts/profile

PARTS = [
    ("dynamic loader: relocations", ["_dl_relocate_object"]),
    ("exec, dynamic loader, glibc start (CPU feature probe)",
     ["execve", "load_elf_binary", "_dl_start", "_dl_sysdep_start", "_dl_init", "__libc_start_main",
      "init_cpu_features", "intel_check_word", "handle_intel", "get_common_indices",
      "get_common_cache_info", "get_extended_indices", "__cpu_indicator_init", "do_lookup_x"]),
    ("AWS SDK: building the clients (endpoint partition tables)",
     ["from_conf", "base_client_runtime_plugins", "PARTITION_RESOLVER"]),
    ("AWS SDK: loading the configuration", ["ConfigLoader", "lambda_sdk_config"]),
    ("AWS SDK: calls (Secrets Manager during init, DynamoDB)", ["aws_smithy_runtime::client::orchestrator"]),
    ("HTTP calls and connections (reqwest)", ["reqwest::"]),
    ("logging set-up", ["init_tracing"]),
    ("Lambda runtime: next event, event to request, response", ["lambda_runtime::", "lambda_http::"]),
    ("bridge code", ["hitl_bridge::"]),
    ("allocator", ["malloc", "_int_free", "__libc_free", "tcache_", "unlink_chunk"]),
    ("page faults", ["asm_exc_page_fault"]),
    ("other system calls (threads, sockets, memory)", ["entry_SYSCALL"]),
]


def read_samples(path):
    samples, current = [], None
    for line in open(path, errors="replace"):
        if not line.strip():
            if current:
                samples.append(current)
            current = None
        elif line[0] not in " \t":
            match = re.match(r"(\S.*?)\s+(\d+)\s+([\d.]+):", line)
            current = (match.group(1), int(match.group(2)), float(match.group(3)), [])
        else:
            parts = line.strip().split(None, 1)
            current[3].append(parts[1] if len(parts) > 1 else "?")
    if current:
        samples.append(current)
    return samples


samples = read_samples(sys.argv[1])
if not samples:
    sys.exit("no samples: did the benchmark start the functions while perf recorded?")
started = {}
for comm, pid, time, _ in samples:
    started.setdefault(pid, time)
for binary, comm_prefix in [("botpress-outbound", "botpress"), ("hubspot-webhook", "hubspot"), ("hello-lambda (floor)", "hello")]:
    chosen = [s for s in samples if s[0].startswith(comm_prefix) and s[2] - started[s[1]] < WINDOW]
    processes = len({s[1] for s in chosen})
    if not processes:
        continue
    per_start = lambda count: count / processes / RATE * 1000
    shares = collections.Counter()
    for _, _, _, frames in chosen:
        for name, needles in PARTS:
            if any(needle in frame for frame in frames for needle in needles):
                shares[name] += 1
                break
        else:
            shares["other"] += 1
    print(f"{binary}: {processes} starts, {per_start(len(chosen)):.2f} ms of CPU each in its first {WINDOW * 1000:.0f} ms")
    for name, count in shares.most_common():
        print(f"  {100 * count / len(chosen):5.1f}%  {per_start(count):5.2f} ms  {name}")
