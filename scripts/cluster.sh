#!/usr/bin/env bash
# Manage a local slotraft cluster described by a cluster.toml.
#   scripts/cluster.sh up          build (release), create the cluster secret if there is none
#                                  (cluster.toml's secret_file), start every node in the background
#   scripts/cluster.sh down        stop every node (SIGTERM, then SIGKILL after 10 s)
#   scripts/cluster.sh status      one line per node: running or not, and its role
#   scripts/cluster.sh kill N      SIGKILL node N (a crash)
#   scripts/cluster.sh start N     start node N again (it recovers from its data directory)
#   scripts/cluster.sh wipe        stop every node and delete the data directories
# Environment: SLOTRAFT_CONFIG (default: cluster.toml at the repository root),
# SLOTRAFT_RUN_DIR (pid and log files; default: <config dir>/run), SLOTRAFT_BIN (a prebuilt
# binary; default: build target/release/slotraft), SLOTRAFT_NETNS (scripts/chaos.sh: node N runs
# in network namespace <SLOTRAFT_NETNS>-nN, and this script talks to it from <SLOTRAFT_NETNS>-hub).
set -euo pipefail

if [ -n "${SLOTRAFT_NETNS:-}" ] && [ "$(ip netns identify $$ 2>/dev/null)" != "$SLOTRAFT_NETNS-hub" ]; then
  exec ip netns exec "$SLOTRAFT_NETNS-hub" "$0" "$@"
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
config="${SLOTRAFT_CONFIG:-$root/cluster.toml}"
config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
run_dir="${SLOTRAFT_RUN_DIR:-$(dirname "$config")/run}"
bin="${SLOTRAFT_BIN:-$root/target/release/slotraft}"

die() { echo "cluster.sh: $*" >&2; exit 1; }

build() {
  if [ -z "${SLOTRAFT_BIN:-}" ]; then
    "$root/scripts/setup.sh"
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    echo "building slotraft (release)…"
    (cd "$root" && cargo build --release --quiet --bin slotraft)
  fi
  [ -x "$bin" ] || die "no binary at $bin"
}

nodes() { "$bin" nodes --config "$config"; }

# Node-to-node connections prove knowledge of the cluster secret: create it (32 random bytes as
# hex, mode 0600, at cluster.toml's secret_file) when it is missing; an existing one is kept.
ensure_secret() {
  local out
  out="$("$bin" secret --config "$config")" || die "cannot create the cluster secret"
  case "$out" in
    *" created") echo "cluster secret created: ${out% created} (every node of the cluster needs this file)" ;;
  esac
}

. "$root/scripts/lib/proc.sh" # alive

pid_of() {
  local f="$run_dir/node-$1.pid"
  [ -f "$f" ] || return 1
  local p; p="$(cat "$f")"
  alive "$p" || return 1
  echo "$p"
}

# Sends one inline command over bash's /dev/tcp and prints the reply's lines (CR removed).
ask() {
  local addr="$1" cmd="$2" line=""
  exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}" 2>/dev/null || return 1
  printf '%s\r\n' "$cmd" >&3
  IFS= read -r -t 2 line <&3 || true
  printf '%s\n' "${line%$'\r'}"
  case "$line" in
    \$*) while IFS= read -r -t 0.2 line <&3; do printf '%s\n' "${line%$'\r'}"; done ;;
  esac
  exec 3<&- 3>&-
}

start_node() {
  local id="$1" resp
  resp="$(nodes | awk -v id="$id" '$1 == id { print $2 }')"
  [ -n "$resp" ] || die "node $id is not in $config"
  if pid_of "$id" >/dev/null; then
    echo "node $id already running (pid $(pid_of "$id"))"
    return 0
  fi
  mkdir -p "$run_dir"
  local in_ns=()
  [ -n "${SLOTRAFT_NETNS:-}" ] && in_ns=(ip netns exec "$SLOTRAFT_NETNS-n$id")
  nohup "${in_ns[@]}" "$bin" serve --config "$config" --node "$id" >>"$run_dir/node-$id.log" 2>&1 &
  echo $! >"$run_dir/node-$id.pid"
  for _ in $(seq 1 100); do
    [ "$(ask "$resp" PING 2>/dev/null || true)" = "+PONG" ] && { echo "node $id up on $resp (pid $!)"; return 0; }
    alive "$!" || { tail -n 5 "$run_dir/node-$id.log" >&2; die "node $id exited; see $run_dir/node-$id.log"; }
    sleep 0.1
  done
  die "node $id did not answer PING on $resp within 10 s; see $run_dir/node-$id.log"
}

wait_ok() {
  local first; first="$(nodes | awk 'NR == 1 { print $2 }')"
  for _ in $(seq 1 300); do
    local state
    state="$(ask "$first" "CLUSTER INFO" 2>/dev/null | grep -o 'cluster_state:[a-z]*' || true)"
    if [ "$state" = "cluster_state:ok" ]; then
      echo "cluster is up: every slot has a leader"
      wait_balanced
      return 0
    fi
    sleep 0.1
  done
  die "cluster did not reach cluster_state:ok within 30 s"
}

# Leadership moves to each group's preferred leader within seconds of start; waiting for it means
# a client that reads the slot map right after `up` (redis-benchmark --cluster) sees the final one.
wait_balanced() {
  for _ in $(seq 1 300); do
    local balanced=1
    while read -r _id resp _rpc _dir _lead; do
      # Settled: every group the node hosts is led by its preferred leader.
      ask "$resp" "INFO replication" 2>/dev/null | grep -q 'raft_leadership_settled:1' || balanced=0
    done < <(nodes)
    if [ "$balanced" = 1 ]; then
      echo "leadership settled: every group is led by its preferred node"
      return 0
    fi
    sleep 0.1
  done
  echo "cluster.sh: leadership not balanced after 30 s (the cluster serves anyway)" >&2
}

stop_all() {
  local ids; ids="$(nodes | awk '{ print $1 }')"
  for id in $ids; do
    if p="$(pid_of "$id")"; then kill -TERM "$p" 2>/dev/null || true; fi
  done
  for id in $ids; do
    for _ in $(seq 1 100); do pid_of "$id" >/dev/null || break; sleep 0.1; done
    if p="$(pid_of "$id")"; then kill -KILL "$p" 2>/dev/null || true; fi
    rm -f "$run_dir/node-$id.pid"
  done
}

case "${1:-}" in
  up)
    build
    ensure_secret
    for id in $(nodes | awk '{ print $1 }'); do start_node "$id"; done
    wait_ok
    echo "try: redis-cli -c -p $(nodes | awk 'NR == 1 { split($2, a, ":"); print a[2] }')"
    ;;
  down)
    [ -x "$bin" ] || die "no binary at $bin (nothing was started?)"
    stop_all
    echo "cluster stopped"
    ;;
  status)
    [ -x "$bin" ] || die "no binary at $bin"
    nodes | while read -r id resp _rpc _dir _lead; do
      if p="$(pid_of "$id")"; then
        role="$(ask "$resp" "INFO replication" 2>/dev/null | grep -E '^(role|raft_groups_led):' | tr '\n' ' ' || true)"
        echo "node $id: running (pid $p) on $resp $role"
      else
        echo "node $id: stopped"
      fi
    done
    ;;
  kill)
    [ -n "${2:-}" ] || die "usage: cluster.sh kill N"
    p="$(pid_of "$2")" || die "node $2 is not running"
    kill -KILL "$p"
    # SIGKILL is delivered asynchronously: return once the process (and its ports) are gone,
    # so that `start` right after it can listen again.
    for _ in $(seq 1 500); do alive "$p" || break; sleep 0.01; done
    rm -f "$run_dir/node-$2.pid"
    echo "node $2 killed (SIGKILL, pid $p)"
    ;;
  start)
    [ -n "${2:-}" ] || die "usage: cluster.sh start N"
    [ -x "$bin" ] || build
    ensure_secret
    start_node "$2"
    ;;
  wipe)
    [ -x "$bin" ] || die "no binary at $bin"
    stop_all
    nodes | while read -r _id _resp _rpc dir _lead; do rm -rf "$dir"; done
    echo "data directories removed"
    ;;
  *)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
