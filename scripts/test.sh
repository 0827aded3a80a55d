#!/usr/bin/env bash
# The test command from the README: unit tests (the library's, then the chaos checker's in
# the slotraft-chaos binary), openraft's storage suite and the integration tests on real node
# processes, in one release build (the tests start real clusters, so timing matters).
# Integration tests run one at a time: each starts its own cluster. Then a short chaos run
# (crashes and partitions, checked for lost writes and non-linearizable reads) with the
# binaries that build made; it needs root, and is skipped without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
cargo test --release --lib -- "$@"
cargo test --release --bin slotraft-chaos -- "$@"
cargo test --release --test cluster -- --test-threads=1 --nocapture "$@"
if [ $# -gt 0 ]; then
  : # a filtered run: only the tests named
elif [ "$(id -u)" -eq 0 ]; then
  SLOTRAFT_BIN="$PWD/target/release/slotraft" scripts/chaos.sh --time 90 --recovery 20 --nemesis kill,partition
else
  echo "test.sh: chaos run skipped: it needs root (network namespaces, iptables)"
fi
