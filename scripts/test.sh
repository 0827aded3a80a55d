#!/usr/bin/env bash
# The test command from the README: unit tests, openraft's storage suite and the integration
# tests on real node processes, in one release build (the tests start real clusters, so timing
# matters). Integration tests run one at a time: each starts its own cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo test --release --lib -- "$@"
cargo test --release --test cluster -- --test-threads=1 --nocapture "$@"
