#!/usr/bin/env bash
# The test command from the README: unit tests (the library's, then the chaos checker's in
# the slotraft-chaos binary), openraft's storage suite and the integration tests on real node
# processes, in one release build (the tests start real clusters, so timing matters).
# Integration tests run one at a time: each starts its own cluster. Then a short chaos run
# (crashes and partitions, checked for lost writes and non-linearizable reads) with the
# binaries that build made; it needs root, and is skipped without it. Before it, a short
# fuzz run (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo test --release --lib -- "$@"
cargo test --release --bin slotraft-chaos -- "$@"
cargo test --release --test cluster -- --test-threads=1 --nocapture "$@"
if [ $# -gt 0 ]; then
  exit 0 # a filtered run: only the tests named
fi
# A short fuzz run (about a minute): slotraft against redis-server 7, and malformed RESP and RPC
# input; fixed counts, so it tries the same inputs on every machine.
SLOTRAFT_BIN="$PWD/target/release/slotraft" scripts/fuzz.sh --seed 1 --cases 150 --inputs 1000
if [ "$(id -u)" -eq 0 ]; then
  SLOTRAFT_BIN="$PWD/target/release/slotraft" scripts/chaos.sh --time 90 --recovery 20 --nemesis kill,partition
else
  echo "test.sh: chaos run skipped: it needs root (network namespaces, iptables)"
fi
