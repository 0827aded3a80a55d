#!/usr/bin/env bash
# A Jepsen-style run: a three-node cluster in network namespaces of its own, the workload
# (registers and list-append transactions, concurrent clients), a random schedule of faults,
# then heal, recovery, the checker and its report. Exits non-zero on any anomaly.
#   scripts/chaos.sh [--time SECONDS] [--nemesis kill,pause,partition,loss] [--workers N]
#                    [--recovery SECONDS] [--keep]
#   --time      how long faults are injected (default 60); the workload runs --recovery
#               seconds longer (default 20), after everything is healed
#   --nemesis   which faults to draw from (default: all four); each fault hits a node chosen at
#               random or the current leader of a group, lasts 4–10 s, with 2–6 s between faults
#   --keep      leave the cluster and its namespaces up afterwards, for scripts/nemesis.sh by
#               hand (scripts/chaos.sh --stop removes them)
# Needs root (network namespaces, iptables). Files: target/chaos/ (SLOTRAFT_CHAOS_DIR): the
# history (JSON lines in the order operations completed, see src/bin/slotraft-chaos/check/
# history.rs), the nemesis log, the node logs and report.txt, kept after the run. To check a
# kept history again: target/release/slotraft-chaos check --history DIR/history.jsonl
# --nemesis DIR/nemesis.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${SLOTRAFT_CHAOS_DIR:-$root/target/chaos}"
NETNS="${SLOTRAFT_CHAOS_NETNS:-slotraft}"
SUBNET="${SLOTRAFT_CHAOS_SUBNET:-10.77.0}"
NODES="1 2 3"
die() { echo "chaos.sh: $*" >&2; exit 1; }
say() { echo "chaos: $*"; }

time_s=60 recovery_s=20 nemeses="kill,pause,partition,loss" workers=10 keep=0 stop=0
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_s="${2:?}"; shift 2 ;;
    --recovery) recovery_s="${2:?}"; shift 2 ;;
    --nemesis) nemeses="${2:?}"; shift 2 ;;
    --workers) workers="${2:?}"; shift 2 ;;
    --keep) keep=1; shift ;;
    --stop) stop=1; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
[[ "$time_s" =~ ^[0-9]+$ && "$recovery_s" =~ ^[0-9]+$ && "$workers" =~ ^[0-9]+$ ]] || die "--time, --recovery and --workers take whole numbers"
for n in ${nemeses//,/ }; do
  case "$n" in kill|pause|partition|loss) ;; *) die "unknown nemesis $n (kill, pause, partition, loss)" ;; esac
done
[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, iptables)"

cluster() {
  SLOTRAFT_CONFIG="$dir/cluster.toml" SLOTRAFT_RUN_DIR="$dir/run" SLOTRAFT_BIN="$bin" SLOTRAFT_NETNS="$NETNS" \
    "$root/scripts/cluster.sh" "$@"
}
nemesis() { SLOTRAFT_CHAOS_DIR="$dir" "$root/scripts/nemesis.sh" "$@"; }
hub() { ip netns exec "$NETNS-hub" "$@"; }

# Stops the nodes (if any) and removes the namespaces (if any); safe to run twice.
teardown() {
  if [ -f "$dir/env" ] && ip netns list | grep -q "^$NETNS-hub"; then
    for id in $NODES; do
      f="$dir/run/node-$id.pid"
      if [ -f "$f" ]; then kill -CONT "$(cat "$f")" 2>/dev/null || true; fi
    done
    cluster down >/dev/null 2>&1 || true
  fi
  for ns in "$NETNS-hub" $(for id in $NODES; do echo "$NETNS-n$id"; done); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}

bin="${SLOTRAFT_BIN:-$root/target/release/slotraft}"
chaos_bin="$(dirname "$bin")/slotraft-chaos"
if [ "$stop" = 1 ]; then
  teardown
  say "cluster stopped, namespaces removed"
  exit 0
fi

"$root/scripts/setup.sh" --test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if [ -z "${SLOTRAFT_BIN:-}" ]; then
  say "building slotraft and slotraft-chaos (release)…"
  (cd "$root" && cargo build --release --quiet --bin slotraft --bin slotraft-chaos)
fi
[ -x "$bin" ] && [ -x "$chaos_bin" ] || die "no binaries at $bin and $chaos_bin"

# A previous run that was killed outright may have left its namespaces.
teardown
rm -rf "$dir"
mkdir -p "$dir/run"
workload_pid=""
finish() {
  local code=$?
  trap - EXIT INT TERM
  [ -n "$workload_pid" ] && kill "$workload_pid" 2>/dev/null || true
  if [ "$keep" = 1 ] && [ "$code" = 0 ]; then
    say "cluster left up: scripts/nemesis.sh status; scripts/chaos.sh --stop to remove it"
  else
    teardown
  fi
  exit "$code"
}
trap finish EXIT
trap 'exit 130' INT TERM

# The network: a hub namespace with a bridge (the workload runs there), a namespace per node
# with one veth into the bridge. Faults are iptables rules inside the node namespaces.
say "creating network namespaces $NETNS-hub, $(for id in $NODES; do printf '%s ' "$NETNS-n$id"; done)on $SUBNET.0/24"
ip netns add "$NETNS-hub"
ip -n "$NETNS-hub" link set lo up
ip -n "$NETNS-hub" link add br0 type bridge
ip -n "$NETNS-hub" addr add "$SUBNET.254/24" dev br0
ip -n "$NETNS-hub" link set br0 up
for id in $NODES; do
  ns="$NETNS-n$id"
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip -n "$NETNS-hub" link add "veth$id" type veth peer name eth0 netns "$ns"
  ip -n "$NETNS-hub" link set "veth$id" master br0 up
  ip -n "$ns" addr add "$SUBNET.$id/24" dev eth0
  ip -n "$ns" link set eth0 up
done

cat >"$dir/cluster.toml" <<EOF
# Written by scripts/chaos.sh: node N on $SUBNET.N in namespace $NETNS-nN.
[cluster]
data_dir = "data"
fsync = "always"
redirect = "moved"
heartbeat_ms = 100
election_timeout_ms = 500
# The workload connects from the hub namespace, not from loopback; only the namespaces this
# script made can reach the nodes.
protected_mode = false
$(for id in $NODES; do printf '\n[[node]]\nid = %s\nresp = "%s.%s:7001"\nrpc = "%s.%s:17001"\n' "$id" "$SUBNET" "$id" "$SUBNET" "$id"; done)

[[group]]
id = 1
members = [1, 2, 3]
slots = ["0-5460"]

[[group]]
id = 2
members = [1, 2, 3]
slots = ["5461-10922"]

[[group]]
id = 3
members = [1, 2, 3]
slots = ["10923-16383"]
EOF
cat >"$dir/env" <<EOF
NETNS=$NETNS
SUBNET=$SUBNET
NODES="$NODES"
CONFIG=$dir/cluster.toml
RUN_DIR=$dir/run
BIN=$bin
EOF

cluster up | grep -v '^try:' | sed 's/^/chaos: /'
stamp() { echo "$(date +%s%3N) $*" >>"$dir/nemesis.log"; }

seeds="$(for id in $NODES; do printf '%s.%s:7001,' "$SUBNET" "$id"; done)"
total=$((time_s + recovery_s))
say "workload: $workers clients for $total s ($time_s s of faults, then $recovery_s s healed)"
hub "$chaos_bin" run --seeds "${seeds%,}" --time "$total" --workers "$workers" --out "$dir/history.jsonl" \
  2> >(tee "$dir/workload.log" >&2) &
workload_pid=$!

# Random faults until --time is up.
faults=(${nemeses//,/ })
target() {
  # Half the time a node at random, half the time the leader of a group.
  if [ $((RANDOM % 2)) = 0 ]; then echo random; else echo "leader:$((RANDOM % 3 + 1))"; fi
}
end=$((SECONDS + time_s))
while [ $((SECONDS + 6)) -lt "$end" ]; do
  sleep $((RANDOM % 5 + 2))
  hold=$((RANDOM % 7 + 4))
  [ $((SECONDS + hold)) -lt "$end" ] || break
  fault="${faults[RANDOM % ${#faults[@]}]}"
  case "$fault" in
    kill)
      what="$(nemesis kill "$(target)" 2>&1)" || { say "skipped: $what"; continue; }
      stamp "$what"; say "$what"
      sleep "$hold"
      id="$(awk '{ print $2 }' <<<"$what")"
      nemesis start "$id" >/dev/null
      stamp "restart $id"
      ;;
    pause)
      what="$(nemesis pause "$(target)" 2>&1)" || { say "skipped: $what"; continue; }
      stamp "$what"; say "$what"
      sleep "$hold"
      nemesis resume all >/dev/null
      stamp "resume"
      ;;
    partition)
      case $((RANDOM % 3)) in
        0) what="$(nemesis isolate "$(target)" 2>&1)" ;;
        1) what="$(nemesis isolate random 2>&1)" ;;
        *) set -- $(printf '%s\n' $NODES | shuf); what="$(nemesis partition "$1" "$2" '|' "$2" "$3" 2>&1)" ;;
      esac || { say "skipped: $what"; continue; }
      stamp "$what"; say "$what"
      sleep "$hold"
      nemesis heal >/dev/null
      stamp "heal"
      ;;
    loss)
      what="$(nemesis loss $((RANDOM % 16 + 5)) 2>&1)" || { say "skipped: $what"; continue; }
      stamp "$what"; say "$what"
      sleep "$hold"
      nemesis heal >/dev/null
      stamp "heal"
      ;;
  esac
done

# Heal everything, and time how long the cluster takes to serve every slot again.
nemesis heal >/dev/null
nemesis resume all >/dev/null
for id in $NODES; do nemesis start "$id" >/dev/null 2>&1 || true; done
stamp "healed"
healed_ms="$(date +%s%3N)"
until hub redis-cli -h "$SUBNET.1" -p 7001 CLUSTER INFO 2>/dev/null | grep -q 'cluster_state:ok'; do
  [ $(( $(date +%s%3N) - healed_ms )) -lt 30000 ] || die "cluster not ok 30 s after healing"
  sleep 0.1
done
say "healed; every slot has a leader again after $(( $(date +%s%3N) - healed_ms )) ms"
stamp "recovered"

wait "$workload_pid" || die "the workload failed (see $dir/workload.log)"
workload_pid=""
say "checking the history ($(du -h "$dir/history.jsonl" | cut -f1))"
set +e
"$chaos_bin" check --history "$dir/history.jsonl" --nemesis "$dir/nemesis.log" | tee "$dir/report.txt"
code=${PIPESTATUS[0]}
set -e
# A node that panicked fails the run, even if the cluster carried on around it.
for log in "$dir"/run/node-*.log; do
  if grep -q "panicked at" "$log"; then
    say "$(basename "$log") has a panic:"; grep -m1 -A4 "panicked at" "$log" >&2
    code=1
  fi
done
say "history, nemesis log, node logs and report in $dir"
exit "$code"
