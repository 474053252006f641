#!/usr/bin/env bash
# The long crash modes (quality.md R1), too slow for every CI run:
#   - R1 kill -9: 200 kills of the real binary at random moments of a
#     400-statement workload (CI runs 20). CALDB_CRASH_KILLS and
#     CALDB_CRASH_SEED override the count and the seed (a failing seed
#     replays exactly).
#   - R4 bad input: 100,000 proptest cases of random token soup through
#     Database::execute (CI runs 256). PROPTEST_CASES overrides.
# The cargo-fuzz targets (fuzz/, nightly only) are:
#   cargo +nightly fuzz run parse -- -max_total_time=600
#   cargo +nightly fuzz run execute -- -max_total_time=600
set -euo pipefail
cd "$(dirname "$0")/.."
export CALDB_CRASH_KILLS="${CALDB_CRASH_KILLS:-200}"
time cargo test --test crash_kill -- --nocapture
PROPTEST_CASES="${PROPTEST_CASES:-100000}" CALDB_SOUP_LONG=1 \
    time cargo test --release --test bad_input -- --nocapture token_soup
