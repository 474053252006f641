#!/usr/bin/env bash
# The whole performance table of design/quality.md (P1-P6), in one run:
# builds release, then benches/table.rs measures every row side by side
# (durable rows against the disk's own fdatasync rate, SQLite and what redb
# alone reaches; P4-P6 on two freshly generated 1,000,000-device databases,
# each step in its own process).
#
#   scripts/bench.sh              # full table (1.5-5 minutes on 2 cores)
#   CALDB_BENCH_ONLY=p2 scripts/bench.sh          # only some rows (p1, p2, p3, p4)
#   CALDB_BENCH_DEVICES=100000 scripts/bench.sh   # a smaller P4 database
#   CALDB_BENCH_DIR=/path scripts/bench.sh        # where the files go (same disk as the DB under test)
#   scripts/bench.sh --micro      # the criterion micro-benchmarks as well
#   CALDB_BENCH_ONLY=p9 scripts/bench.sh          # P9 alone: licensing exchanges beside RSA (benches/licensing.rs)
set -euo pipefail
cd "$(dirname "$0")/.."
# The CPU is named because P2 is a rate, not a ratio: on 2026-11-23 P2 ran
# at 84k/s on one machine of this kind and at 149k/s on another (commits
# 56b7257 and 17594b4, apart only by review mends).
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(df -h "${CALDB_BENCH_DIR:-${TMPDIR:-/tmp}}" | awk 'NR==2 {print $1}')"
if [[ "${CALDB_BENCH_ONLY:-}" != "p9" ]]; then
    cargo bench --bench table
fi
# P9, the licensing exchanges beside the RSA private-key rate, is its own
# bench (one short run, about 20 s with the recording of its clients).
if [[ -z "${CALDB_BENCH_ONLY:-}" || "${CALDB_BENCH_ONLY}" == *p9* ]]; then
    cargo bench --bench licensing
fi
if [[ "${1:-}" == "--micro" ]]; then
    cargo bench --bench micro
fi
