#!/usr/bin/env bash
# Builds caldb and runs the tour, then the source documents' stories, each on a
# new in-memory database, printing every script line (its narrating comments
# included) above its results.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
for script in examples/tour.sql examples/seed*.sql; do
    printf '\n======== %s ========\n' "$script"
    ./target/release/caldb -echo -table < "$script"
done
