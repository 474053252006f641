#!/usr/bin/env bash
# The one test command: formatting, lints, then every test. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# The library and the shell as a user builds them: no dev-dependencies, so
# no `internals` feature; the public API must be documented
# (#![deny(missing_docs)]) and the shell must use it alone.
cargo clippy --lib --bins -- -D warnings
# The real RDP clients that tests/real_clients.rs drives through caldb-host
# (xfreerdp, xvfb-run, rdesktop): installed when missing (as root); under
# CI=true a client that cannot be had fails here, never a silent skip.
./scripts/real-clients.sh
cargo test --all-targets
cargo test --doc
