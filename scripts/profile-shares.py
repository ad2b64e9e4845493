"""Shares of a warm function's CPU samples per part, from `perf script -F ip,sym` output.

Each sample is a call stack (leaf first). A sample counts for the first part, in the order
below, that its stack passes through: so "AWS SDK" is every sample under an SDK operation,
whatever library is at the leaf, and "bridge code" is what remains of the request handler.
Used by scripts/profile; docs/PERFORMANCE.md quotes its output.
"""

import collections
import sys

stacks_file, function = sys.argv[1], sys.argv[2]
handler = {"botpress-outbound": "botpress_route", "hubspot-webhook": "hubspot_route"}[function]

PARTS = [
    ("AWS SDK call (DynamoDB / Secrets Manager)", lambda s: "aws_smithy_runtime::client::orchestrator" in s),
    # reqwest carries the SDK's requests too: an SDK call counts above, its connection task here.
    ("HTTP calls and connections (reqwest)", lambda s: "reqwest::" in s),
    ("bridge code (parse, relay, checks)", lambda s: handler in s),
    ("Lambda runtime: next event, event to request, response", lambda s: "lambda_runtime" in s),
    ("idle: waiting for I/O", lambda s: "park" in s or "epoll_wait" in s),
]

samples = [s for s in open(stacks_file).read().split("\n\n") if s.strip()]
if not samples:
    sys.exit("no samples: was the function relaying while perf recorded?")
shares = collections.Counter()
for sample in samples:
    for name, matches in PARTS:
        if matches(sample):
            shares[name] += 1
            break
    else:
        shares["other (tokio, allocator, kernel)"] += 1

print(f"{function}: {len(samples)} samples")
for name, count in shares.most_common():
    print(f"  {100 * count / len(samples):5.1f}%  {name}")

# Inside the bridge's own code: which of its functions (the innermost hitl_bridge frame).
own = collections.Counter()
for sample in samples:
    if not PARTS[2][1](sample) or PARTS[0][1](sample) or PARTS[1][1](sample):
        continue
    frames = [line.strip().split(" ", 1)[1] for line in sample.strip().split("\n") if " " in line.strip()]
    ours = [f for f in frames if "hitl_bridge" in f and not f.endswith("(inlined)")]
    if ours:
        own[ours[0][:110]] += 1
if own:
    print("  bridge code, innermost own function:")
    for name, count in own.most_common(8):
        print(f"  {100 * count / len(samples):5.1f}%    {name}")
