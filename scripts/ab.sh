#!/usr/bin/env bash
# Compares two slotraft binaries on the same workload: fresh default cluster for each run,
# A and B alternating, and for each run the client's requests per second and p50, the nodes'
# CPU time per request (from /proc) and the mean writes per Raft entry (INFO raft). The machine's
# speed moves by tens of percent within minutes, so compare alternating runs, not a run today
# with a figure from yesterday.
#
#   scripts/ab.sh [--runs N] BIN_A BIN_B [-- redis-benchmark arguments]
#
# Default workload: -t set -n 150000 -r 100000 -d 100 -c 50 (unpipelined SET). Keep a build
# with `cp target/release/slotraft /tmp/slotraft-before` before changing the code.
# redis-benchmark --cluster sees a run end only at a 250 ms progress tick, so the time it
# reports (printed here as "s") is rounded up to a multiple of 250 ms: choose -n for runs of
# several seconds, or differences under 0.25 s / run time are the rounding's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
say() { echo "ab: $*" >&2; }
die() { say "$*"; exit 1; }

runs=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="${2:?}"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) if [ -z "${a:-}" ]; then a="$1"; elif [ -z "${b:-}" ]; then b="$1"; else die "unexpected argument: $1"; fi; shift ;;
  esac
done
[ -n "${a:-}" ] && [ -n "${b:-}" ] || die "usage: scripts/ab.sh [--runs N] BIN_A BIN_B [-- redis-benchmark arguments]"
[ -x "$a" ] && [ -x "$b" ] || die "both binaries must exist and be executable"
command -v redis-benchmark >/dev/null || die "redis-benchmark not found (scripts/setup.sh --test installs it)"
bench_args=("$@")
[ ${#bench_args[@]} -gt 0 ] || bench_args=(-t set -n 150000 -r 100000 -d 100 -c 50)
requests=150000
for ((i = 0; i < ${#bench_args[@]}; i++)); do
  [ "${bench_args[$i]}" = "-n" ] && requests="${bench_args[$((i + 1))]}"
done

work="$root/target/ab"
cluster() {
  SLOTRAFT_CONFIG="$work/cluster.toml" SLOTRAFT_RUN_DIR="$work/run" SLOTRAFT_BIN="$bin" \
    "$root/scripts/cluster.sh" "$@"
}
ports=$(awk -F'"' '/^resp *=/ { n = split($2, p, ":"); print p[n] }' "$root/cluster.toml")
for port in $ports; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use (a cluster already running? scripts/cluster.sh down)"
  fi
done
trap 'cluster down >/dev/null 2>&1 || true' EXIT
ticks=$(getconf CLK_TCK)

one_run() {
  local tag="$1"
  bin="$2"
  rm -rf "$work"
  mkdir -p "$work"
  sed -e "s|^data_dir = .*|data_dir = \"$work/data\"|" "$root/cluster.toml" >"$work/cluster.toml"
  cluster up >/dev/null
  local pids cpu0 cpu1 out
  pids=$(cat "$work"/run/*.pid)
  cpu() { for p in $pids; do awk '{ print $14 + $15 }' "/proc/$p/stat"; done | awk '{ t += $1 } END { print t }'; }
  cpu0=$(cpu)
  local port=${ports%%$'\n'*}
  out=$(redis-benchmark --cluster -p "$port" "${bench_args[@]}" -q 2>/dev/null | tr '\r' '\n' | grep -a "per second" | tail -1)
  cpu1=$(cpu)
  local batch
  batch=$(for p in $ports; do redis-cli -p "$p" info raft; done | tr -d '\r' |
    grep -oE 'proposals=[0-9]+,proposed_writes=[0-9]+' | tr '=,' '  ' |
    awk '{ n += $2; w += $4 } END { if (n) printf "%.1f", w / n; else print "-" }')
  cluster down >/dev/null
  awk -v tag="$tag" -v out="$out" -v c0="$cpu0" -v c1="$cpu1" -v hz="$ticks" -v n="$requests" -v batch="$batch" 'BEGIN {
    rps = out; sub(/ requests per second.*/, "", rps); sub(/.*: /, "", rps)
    p50 = out; if (sub(/.*p50=/, "", p50)) sub(/ .*/, "", p50); else p50 = "-"
    printf "%s  %10.0f rps  %6.2f s  p50 %6s ms  %6.1f us of node CPU per request  %5s writes per entry\n", tag, rps, (rps > 0 ? n / rps : 0), p50, (c1 - c0) / hz * 1e6 / n, batch
  }'
}

say "A = $a"
say "B = $b"
say "redis-benchmark --cluster ${bench_args[*]}, $runs run(s) each, alternating"
for ((r = 1; r <= runs; r++)); do
  one_run A "$a"
  one_run B "$b"
done
