#!/usr/bin/env bash
# Measures failover on a running cluster (scripts/cluster.sh up): SIGKILL the node leading the
# group of slot 0, time until `redis-cli -c SET` on a slot-0 key succeeds again through another
# node, restart the killed node, wait for it to lead again; repeat. Prints each time and the median.
#   scripts/failover-time.sh [runs]      (default 5)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${1:-5}"
cluster="$root/scripts/cluster.sh"
command -v redis-cli >/dev/null || { echo "failover-time.sh: needs redis-cli (scripts/setup.sh --test)" >&2; exit 1; }
config="${SLOTRAFT_CONFIG:-$root/cluster.toml}"
bin="${SLOTRAFT_BIN:-$root/target/release/slotraft}"
first_port="$("$bin" nodes --config "$config" | awk 'NR == 1 { split($2, a, ":"); print a[2] }')"
key="{06S}x" # hashes to slot 0

leader_of_slot0() {
  redis-cli -p "$first_port" CLUSTER NODES | awk '$3 ~ /master/ && $9 ~ /^0(-|$)/ { split($2, a, "[:@]"); print a[2] }'
}

times=()
for run in $(seq 1 "$runs"); do
  port="$(leader_of_slot0)"
  [ -n "$port" ] || { echo "no leader for slot 0" >&2; exit 1; }
  id="$("$bin" nodes --config "$config" | awk -v p="$port" '{ split($2, a, ":"); if (a[2] == p) print $1 }')"
  other="$("$bin" nodes --config "$config" | awk -v p="$port" '{ split($2, a, ":"); if (a[2] != p) { print a[2]; exit } }')"
  start=$(date +%s%N)
  "$cluster" kill "$id" >/dev/null
  until [ "$(timeout 5 redis-cli -c -p "$other" SET "$key" "$run" 2>/dev/null)" = "OK" ]; do sleep 0.01; done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  times+=("$ms")
  echo "run $run: killed node $id (leader of slot 0); a write succeeded again after $ms ms"
  "$cluster" start "$id" >/dev/null
  # Let leadership return to the restarted node before the next run.
  for _ in $(seq 1 100); do [ "$(leader_of_slot0)" = "$port" ] && break; sleep 0.1; done
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
echo "failover median over $runs runs: $median ms"
