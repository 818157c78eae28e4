#!/usr/bin/env bash
# Runs every test: formatting, lints, and the whole workspace's test suite.
source "$(dirname "${BASH_SOURCE[0]}")/venv.sh"
cd "$ROOT"

say "checking formatting (cargo fmt --check)"
cargo fmt --all -- --check

say "linting (cargo clippy --all-targets -D warnings)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "running the test suite (cargo test --workspace)"
cargo test --workspace
