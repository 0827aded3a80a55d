#!/usr/bin/env bash
# Faults for a cluster started by scripts/chaos.sh (each node in a network namespace of its own,
# on address <subnet>.<id>). Run as root, while that cluster is up.
#   nemesis.sh kill TARGET             SIGKILL the node (a crash); `start N` brings it back
#   nemesis.sh start N                 restart node N from its data directory
#   nemesis.sh crash TARGET [SECONDS]  SIGKILL, wait (default 5 s), restart
#   nemesis.sh pause TARGET            SIGSTOP the node
#   nemesis.sh resume N|all            SIGCONT
#   nemesis.sh partition A.. '|' B..   drop every packet between the two halves (both ways); a node
#                                      named in both halves bridges them: `partition 1 2 '|' 2 3`
#   nemesis.sh isolate TARGET          partition TARGET from every other node
#   nemesis.sh loss PERCENT [N..]      drop PERCENT% of the packets the nodes (default: all)
#                                      receive from and send to the other nodes, at random
#   nemesis.sh heal                    remove every network fault (partitions and loss)
#   nemesis.sh leader G                print the id of group G's leader
#   nemesis.sh status                  processes and network faults
# TARGET is a node id, `leader:G` (the current leader of group G) or `random`. Each command
# prints one line saying what it did, with targets resolved ("kill 2 (leader of group 1)").
# Environment: SLOTRAFT_CHAOS_DIR (default target/chaos), where chaos.sh keeps its state.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${SLOTRAFT_CHAOS_DIR:-$root/target/chaos}"
die() { echo "nemesis.sh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and iptables)"
[ -f "$dir/env" ] || die "no cluster state in $dir/env: start one with scripts/chaos.sh --keep, or set SLOTRAFT_CHAOS_DIR"
# shellcheck source=/dev/null
. "$dir/env" # NETNS SUBNET NODES CONFIG RUN_DIR BIN

# Everything below talks to the nodes' addresses, reachable from the hub namespace only.
if [ "$(ip netns identify $$ 2>/dev/null)" != "$NETNS-hub" ]; then
  exec ip netns exec "$NETNS-hub" "$0" "$@"
fi

ip_of() { echo "$SUBNET.$1"; }
in_node() { local id="$1"; shift; ip netns exec "$NETNS-n$id" "$@"; }
cluster() {
  SLOTRAFT_CONFIG="$CONFIG" SLOTRAFT_RUN_DIR="$RUN_DIR" SLOTRAFT_BIN="$BIN" SLOTRAFT_NETNS="$NETNS" \
    "$root/scripts/cluster.sh" "$@"
}
. "$root/scripts/lib/proc.sh" # alive
pid_of() {
  local f="$RUN_DIR/node-$1.pid"
  [ -f "$f" ] && alive "$(cat "$f")" && cat "$f"
}
is_node() { case " $NODES " in *" $1 "*) return 0 ;; esac; return 1; }

# The first slot of group G, from the cluster.toml.
first_slot() {
  awk -v g="$1" '
    /^\[\[group\]\]/ { in_group = 1; id = ""; next }
    /^\[/ { in_group = 0 }
    in_group && /^id *=/ { id = $3 }
    in_group && /^slots *=/ && id == g { match($0, /[0-9]+/); print substr($0, RSTART, RLENGTH); exit }
  ' "$CONFIG"
}

# The node that leads group G: of the nodes that answer, the one whose own CLUSTER NODES line
# ("myself") covers the group's first slot, with the highest epoch (a deposed leader that has
# not heard of its successor yet claims an older term).
leader_of() {
  local slot; slot="$(first_slot "$1")"
  [ -n "$slot" ] || die "no group $1 in $CONFIG"
  local best="" best_epoch=-1 id
  for id in $NODES; do
    local line
    line="$(timeout 1 redis-cli -h "$(ip_of "$id")" -p "$(port_of "$id")" CLUSTER NODES 2>/dev/null | grep myself || true)"
    [ -n "$line" ] || continue
    if awk -v s="$slot" '{ for (i = 9; i <= NF; i++) { n = split($i, r, "-"); lo = r[1]; hi = (n > 1 ? r[2] : r[1]); if (s >= lo && s <= hi) found = 1 } } END { exit !found }' <<<"$line"; then
      local epoch; epoch="$(awk '{ print $7 }' <<<"$line")"
      if [ "$epoch" -gt "$best_epoch" ]; then best="$id"; best_epoch="$epoch"; fi
    fi
  done
  [ -n "$best" ] || die "group $1 has no leader right now"
  echo "$best"
}
port_of() { "$BIN" nodes --config "$CONFIG" | awk -v id="$1" '$1 == id { n = split($2, a, ":"); print a[n] }'; }

# TARGET → node id in `tid`; `why` says how it was chosen.
tid="" why=""
resolve() {
  case "$1" in
    leader:*) tid="$(leader_of "${1#leader:}")"; why=" (leader of group ${1#leader:})" ;;
    random) local all=($NODES); tid="${all[RANDOM % ${#all[@]}]}"; why=" (at random)" ;;
    *) is_node "$1" || die "no node $1 (nodes: $NODES)"; tid="$1"; why="" ;;
  esac
}

# Each node's namespace has two chains of ours, jumped to from INPUT and OUTPUT.
chains() {
  local id="$1" c hook
  for c in NEMESIS-PART NEMESIS-LOSS; do
    in_node "$id" iptables -N "$c" 2>/dev/null || true
    for hook in INPUT OUTPUT; do
      in_node "$id" iptables -C "$hook" -j "$c" 2>/dev/null || in_node "$id" iptables -A "$hook" -j "$c"
    done
  done
}
flush() {
  local n
  for n in $NODES; do chains "$n"; in_node "$n" iptables -F "$1"; done
}

partition() {
  local left=() right=() side=left notes="" a b
  for a in "$@"; do
    if [ "$a" = "|" ]; then side=right; continue; fi
    resolve "$a"
    notes+="$why"
    if [ "$side" = left ]; then left+=("$tid"); else right+=("$tid"); fi
  done
  [ "${#left[@]}" -gt 0 ] && [ "${#right[@]}" -gt 0 ] || die "usage: nemesis.sh partition A.. '|' B.."
  flush NEMESIS-PART
  for a in "${left[@]}"; do
    for b in "${right[@]}"; do
      # A node in both halves (a bridge) talks to everyone.
      case " ${right[*]} " in *" $a "*) continue ;; esac
      case " ${left[*]} " in *" $b "*) continue ;; esac
      in_node "$a" iptables -A NEMESIS-PART -s "$(ip_of "$b")" -j DROP
      in_node "$a" iptables -A NEMESIS-PART -d "$(ip_of "$b")" -j DROP
      in_node "$b" iptables -A NEMESIS-PART -s "$(ip_of "$a")" -j DROP
      in_node "$b" iptables -A NEMESIS-PART -d "$(ip_of "$a")" -j DROP
    done
  done
  echo "partition ${left[*]} | ${right[*]}$notes"
}

case "${1:-}" in
  kill|pause)
    resolve "${2:?usage: nemesis.sh $1 TARGET}"; id="$tid"
    pid="$(pid_of "$id")" || die "node $id is not running"
    if [ "$1" = kill ]; then
      kill -KILL "$pid"
      for _ in $(seq 1 500); do alive "$pid" || break; sleep 0.01; done
    else
      kill -STOP "$pid"
    fi
    echo "$1 $id$why"
    ;;
  start)
    resolve "${2:?usage: nemesis.sh start N}"; id="$tid"
    cluster start "$id" >/dev/null
    echo "start $id"
    ;;
  crash)
    resolve "${2:?usage: nemesis.sh crash TARGET [SECONDS]}"; id="$tid"
    pid="$(pid_of "$id")" || die "node $id is not running"
    # Interrupted while it is down: bring it back before leaving.
    trap 'cluster start "$id" >/dev/null; exit 130' INT TERM
    kill -KILL "$pid"
    sleep "${3:-5}"
    cluster start "$id" >/dev/null
    trap - INT TERM
    echo "crash $id$why for ${3:-5} s"
    ;;
  resume)
    target="${2:?usage: nemesis.sh resume N|all}"
    ids="$NODES"
    [ "$target" = all ] || { resolve "$target"; ids="$tid"; }
    for id in $ids; do
      if pid="$(pid_of "$id")"; then kill -CONT "$pid"; fi
    done
    echo "resume $target"
    ;;
  partition)
    shift
    partition "$@"
    ;;
  isolate)
    resolve "${2:?usage: nemesis.sh isolate TARGET}"; id="$tid"
    w="$why"
    others=()
    for n in $NODES; do [ "$n" = "$id" ] || others+=("$n"); done
    partition "$id" "|" "${others[@]}" >/dev/null
    echo "isolate $id$w"
    ;;
  loss)
    pct="${2:?usage: nemesis.sh loss PERCENT [N..]}"
    [[ "$pct" =~ ^[0-9]+$ ]] && [ "$pct" -le 100 ] || die "PERCENT is a whole number from 0 to 100"
    shift 2
    ids="${*:-$NODES}"
    flush NEMESIS-LOSS
    p="$(awk -v p="$pct" 'BEGIN { printf "%.4f", p / 100 }')"
    for id in $ids; do
      is_node "$id" || die "no node $id"
      for peer in $NODES; do
        [ "$peer" = "$id" ] && continue
        in_node "$id" iptables -A NEMESIS-LOSS -s "$(ip_of "$peer")" -m statistic --mode random --probability "$p" -j DROP
        in_node "$id" iptables -A NEMESIS-LOSS -d "$(ip_of "$peer")" -m statistic --mode random --probability "$p" -j DROP
      done
    done
    echo "loss $pct% at $ids"
    ;;
  heal)
    flush NEMESIS-PART
    flush NEMESIS-LOSS
    echo "heal"
    ;;
  leader)
    leader_of "${2:?usage: nemesis.sh leader G}"
    ;;
  status)
    for id in $NODES; do
      state="stopped"
      if pid="$(pid_of "$id")"; then
        state="running (pid $pid)"
        grep -q '^State:.*stopped' "/proc/$pid/status" 2>/dev/null && state="paused (pid $pid)"
      fi
      rules="$(in_node "$id" iptables -S 2>/dev/null | grep -c -- '-j DROP' || true)"
      echo "node $id at $(ip_of "$id"): $state, $rules drop rules"
    done
    ;;
  *)
    awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"
    exit 2
    ;;
esac
