#!/usr/bin/env bash
# Fuzzes slotraft (issue 32): differential against Redis, then protocol bytes at its ports.
#   scripts/fuzz.sh [--time SECONDS] [--seed N] [--cases N] [--inputs N] [--phases diff,resp,rpc]
# differential: seeded sequences of every command slotraft lists in COMMAND (valid, edge-case
#   and invalid arguments, MULTI blocks) against a one-node slotraft and Debian's redis-server 7
#   (cluster mode, all slots), reply by reply; each difference not in
#   scripts/fuzz/known-differences.txt is shrunk to a short reproduction. Every case is also fed
#   to a three-node cluster.
# protocol: mutated RESP2/RESP3 bytes at the one node's RESP port (and at redis-server, replies
#   compared), and garbage, append-stream frames, HTTP/2 and gRPC with garbage protobuf at a
#   node's RPC port.
# Then: every node up, every group writable, the three-node cluster's replicas equal (DEBUG
# DIGEST). Exits 1 on a crash, a hang, a difference not on the list, or a failed check;
# findings are printed and kept in target/fuzz/findings.txt, with the nodes' logs.
# Case i of a seed is always the same sequence: --time only decides how many run (--cases and
# --inputs fix the counts). Ports 7400-7499 (--base-port). Environment: SLOTRAFT_BIN (a prebuilt
# binary; default: build target/release/slotraft).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
esac

# As scripts/bench.sh: Debian's packages, installed when missing (Debian starts a default
# redis-server instance where it can; this script runs its own).
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
if [ -n "$missing" ]; then
  echo "fuzz: installing$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ -z "${SLOTRAFT_BIN:-}" ]; then
  "$root/scripts/setup.sh"
  [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  echo "fuzz: building slotraft (release)…"
  (cd "$root" && cargo build --release --quiet --bin slotraft)
fi
export SLOTRAFT_BIN="${SLOTRAFT_BIN:-$root/target/release/slotraft}"
export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the checkout
exec python3 "$root/scripts/fuzz/main.py" "$@"
