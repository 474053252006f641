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
cargo test --all-targets
cargo test --doc
