#!/usr/bin/env bash
# The long crash modes (quality.md R1), too slow for every CI run:
#   - R1 kill -9: 200 kills of the real binary at random moments of a
#     400-statement workload (CI runs 20). CALDB_CRASH_KILLS and
#     CALDB_CRASH_SEED override the count and the seed (a failing seed
#     replays exactly).
#   - R4 bad input: 100,000 proptest cases of random token soup through
#     Database::execute (CI runs 256). PROPTEST_CASES overrides.
#   - R6 damaged files: 3,000 damaged copies of a real database, each read,
#     CHECKed and REPAIRed through the binary (CI runs 300).
#     CALDB_DAMAGE_FILES and CALDB_DAMAGE_SEED override.
# The cargo-fuzz targets (fuzz/, needs `cargo install cargo-fuzz` and a
# nightly toolchain); with CALDB_FUZZ_SECONDS set, this script runs them too:
#   cd fuzz && cargo +nightly fuzz run parse -- -max_total_time=600 -max_len=512
#   cd fuzz && cargo +nightly fuzz run execute -- -max_total_time=600 -max_len=1024
#   cd fuzz && cargo +nightly fuzz run -O -a --sanitizer none licensing corpus/licensing seeds/licensing -- -max_total_time=600
set -euo pipefail
cd "$(dirname "$0")/.."
export CALDB_CRASH_KILLS="${CALDB_CRASH_KILLS:-200}"
time cargo test --test crash_kill -- --nocapture
CALDB_DAMAGE_FILES="${CALDB_DAMAGE_FILES:-3000}" \
    time cargo test --test damage_corpus -- --nocapture
PROPTEST_CASES="${PROPTEST_CASES:-100000}" \
    time cargo test --release --test bad_input -- --nocapture token_soup
if [[ -n "${CALDB_FUZZ_SECONDS:-}" ]]; then
    (cd fuzz && cargo +nightly fuzz run parse -- -max_total_time="$CALDB_FUZZ_SECONDS" -max_len=512)
    (cd fuzz && cargo +nightly fuzz run execute -- -max_total_time="$CALDB_FUZZ_SECONDS" -max_len=1024)
    (cd fuzz && mkdir -p corpus/licensing && cargo +nightly fuzz run -O -a --sanitizer none licensing \
        corpus/licensing seeds/licensing -- -max_total_time="$CALDB_FUZZ_SECONDS" -max_len=4096)
fi
