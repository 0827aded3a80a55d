#!/usr/bin/env bash
# slotraft next to Redis Cluster on this machine, in the same run.
#   scripts/bench.sh [--quick] [--rounds N] [--tls] [--skip-memory] [--skip-failover] [--skip-micro]
# Starts the default three-node slotraft cluster (fsync always, fresh data) on ports 7001-7003,
# and a Redis Cluster of three masters and three replicas (Debian's redis-server, installed if
# missing; no persistence; cluster-node-timeout 5000) on ports 7101-7106, and for reference a
# second one that makes every write durable as a Redis user can (appendonly yes, appendfsync
# always: a master fsyncs its AOF before it replies, a replica before it goes on) on ports
# 7111-7116, and a second slotraft cluster with fsync everysec (no wait for the disk) on ports
# 7011-7013. Then:
#   throughput: redis-benchmark --cluster SET and GET, 100-byte values, keys random over
#     100,000, 50 clients, unpipelined (1,000,000 requests) and -P 16 (4,000,000), so that no
#     run is short enough for redis-benchmark's 250 ms rounding (below) to matter; systems
#     alternate A B A B over the rounds;
#     prints requests/s and p50 / p99 (ms), medians over rounds, and slotraft / Redis (the
#     median's and each round's, both systems having run back to back in it); SET also against
#     the durable Redis Cluster, in a second table, and slotraft's SET without the disk's wait
#     (everysec) against Redis Cluster, in a third;
#   memory: resident size of each node after loading ~1,000,000 keys of 100 bytes;
#   failover: SIGKILL of the leader (master) of slot 0 until a write to it succeeds, median of 5;
#   recovery: a slotraft node holding those keys restarted until it serves them again;
#   micro: `cargo bench --bench micro` (one replica's state machine, the log engine with fsync, the disk alone, the RESP parser).
#   tls (--tls): the same SET and GET runs over TLS (redis-benchmark --tls, client
#     certificates, auth_clients "yes" as Redis's default) against slotraft's TLS ports
#     (7021-7023, the same nodes as 7001-7003: certificates from `slotraft certs`) and a Redis
#     Cluster with tls-port and tls-cluster yes (plain 7121-7126, TLS 7131-7136), in the same
#     rounds; a table of slotraft TLS against slotraft plain and against Redis TLS.
# --quick: one round of fewer requests, one failover, 200,000 keys. Files in target/bench/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$root/target/bench"
die() { echo "bench.sh: $*" >&2; exit 1; }
say() { echo "bench: $*" >&2; }

quick=0 rounds="" memory=1 failover=1 micro=1 tls=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1; shift ;;
    --rounds) rounds="${2:?}"; shift 2 ;;
    --tls) tls=1; shift ;;
    --skip-memory) memory=0; shift ;;
    --skip-failover) failover=0; shift ;;
    --skip-micro) micro=0; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
# Requests per run, unpipelined and with -P 16. redis-benchmark --cluster runs a thread per
# node and notices the end of a run only at its next 250 ms progress tick, so every elapsed
# time it reports is rounded up to a multiple of 250 ms: runs must last seconds for the
# figures to mean anything (300,000 pipelined GETs took "0.5 s" whether they took 0.26 or 0.5).
if [ "$quick" = 1 ]; then
  rounds="${rounds:-1}" requests=100000 requests_piped=400000 keys=200000 failovers=1
else
  rounds="${rounds:-3}" requests=1000000 requests_piped=4000000 keys=1000000 failovers=5
fi

"$root/scripts/setup.sh" --test
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v redis-server >/dev/null 2>&1; then
  say "installing redis-server (Debian's), to compare with"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
  # Debian starts a default instance where it can; this script runs its own.
fi
bin="${SLOTRAFT_BIN:-$root/target/release/slotraft}"
if [ -z "${SLOTRAFT_BIN:-}" ]; then
  say "building slotraft (release)…"
  (cd "$root" && cargo build --release --quiet --bin slotraft)
fi

redis_ports="7101 7102 7103 7104 7105 7106" aof_ports="7111 7112 7113 7114 7115 7116"
tls_redis_ports="" busy=""
if [ "$tls" = 1 ]; then
  tls_redis_ports="7121 7122 7123 7124 7125 7126"
  busy="7021 7022 7023 7131 7132 7133 7134 7135 7136 17131 17132 17133 17134 17135 17136"
fi
for port in 7001 7002 7003 17001 17002 17003 7011 7012 7013 17011 17012 17013 $redis_ports $aof_ports $tls_redis_ports $busy; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "port $port is in use (a cluster already running? scripts/cluster.sh down)"
  fi
done

rm -rf "$work"
mkdir -p "$work/redis" "$work/slotraft" "$work/everysec"
sed -e "s|^data_dir = .*|data_dir = \"$work/slotraft/data\"|" "$root/cluster.toml" >"$work/slotraft/cluster.toml"
# The same cluster with fsync everysec on ports 7011-7013 and 17011-17013: a bound on what the
# disk costs.
sed -e "s|^data_dir = .*|data_dir = \"$work/everysec/data\"|" -e 's|^fsync = "always"|fsync = "everysec"|' \
  -e 's|127\.0\.0\.1:\(1\?\)700\([0-9]\)|127.0.0.1:\1701\2|' "$root/cluster.toml" >"$work/everysec/cluster.toml"
grep -q '^fsync = "everysec"' "$work/everysec/cluster.toml" && ! grep -q ':1\?700[0-9]' "$work/everysec/cluster.toml" \
  || die "cluster.toml's fsync line or ports changed shape; see $work/everysec/cluster.toml"
certs="$work/slotraft/certs"
tls_args=()
if [ "$tls" = 1 ]; then
  # TLS ports beside the plain ones (7001 -> 7021), the certificates of `slotraft certs`.
  sed -i -e 's|^resp = "127\.0\.0\.1:700\([0-9]\)"|&\nresp_tls = "127.0.0.1:702\1"|' "$work/slotraft/cluster.toml"
  sed -i -e "s|^\[\[node\]\]|[cluster.tls]\nca_file = \"certs/ca.crt\"\ncert_file = \"certs/node-{node}.crt\"\nkey_file = \"certs/node-{node}.key\"\nauth_clients = \"yes\"\n\n&|;T;:a;n;ba" \
    "$work/slotraft/cluster.toml"
  [ "$(grep -c '^resp_tls' "$work/slotraft/cluster.toml")" = 3 ] && grep -q '^\[cluster.tls\]' "$work/slotraft/cluster.toml" \
    || die "cluster.toml's node lines changed shape; see $work/slotraft/cluster.toml"
  "$bin" certs --config "$work/slotraft/cluster.toml" --out "$certs" >/dev/null
  tls_args=(--tls --cacert "$certs/ca.crt" --cert "$certs/client.crt" --key "$certs/client.key")
fi
# in_cluster DIR ARGS…: scripts/cluster.sh ARGS… for the cluster whose files are in $work/DIR.
in_cluster() {
  local dir="$1"
  shift
  SLOTRAFT_CONFIG="$work/$dir/cluster.toml" SLOTRAFT_RUN_DIR="$work/$dir/run" SLOTRAFT_BIN="$bin" \
    "$root/scripts/cluster.sh" "$@"
}
slot() { in_cluster slotraft "$@"; }
slot_everysec() { in_cluster everysec "$@"; }
redis_pid() { cat "$work/redis/$1/redis.pid" 2>/dev/null; }
# Both systems' servers run as this script's background children, in its session, as
# slotraft's nodes do (scripts/cluster.sh): with Linux's autogroup scheduling (on by default) a
# process that makes a session of its own (`--daemonize yes`, setsid) is scheduled as a group
# of its own, and the CPU is then shared among groups first. Redis daemonized did 76,700-81,500
# SETs/s where it did 88,600-88,800 in the benchmark's session (three alternating runs each),
# and slotraft's nodes under setsid 26,200-28,100 against 28,900-31,200: the same start for both,
# or the ratio measures the start.
start_redis() {
  local port="$1" d="$work/redis/$1"
  mkdir -p "$d"
  local persist=(--appendonly no --save "")
  [ "${port:0:3}" = 711 ] && persist=(--appendonly yes --appendfsync always --save "")
  # 7121-7126: with a TLS port 10 up, TLS between nodes too (its cluster bus on the TLS port
  # + 10000), a client certificate required (Redis's default); node 1's certificate for all.
  [ "${port:0:3}" = 712 ] && persist+=(--tls-port $((port + 10)) --tls-cluster yes --tls-replication yes
    --tls-cert-file "$certs/node-1.crt" --tls-key-file "$certs/node-1.key" --tls-ca-cert-file "$certs/ca.crt")
  nohup redis-server --port "$port" --cluster-enabled yes --cluster-config-file "$d/nodes.conf" \
    --cluster-node-timeout 5000 "${persist[@]}" --dir "$d" --daemonize no \
    --pidfile "$d/redis.pid" --logfile "$d/redis.log" --protected-mode no >/dev/null 2>&1 &
  disown # its SIGKILL in the failover runs is expected; no job notice for it
  for _ in $(seq 1 100); do redis-cli -p "$port" PING >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "redis-server on port $port did not start; see $d/redis.log"
}
stop_redis() {
  local port p
  for port in "$@"; do
    p="$(redis_pid "$port" || true)"
    [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true
  done
}
cleanup() {
  slot down >/dev/null 2>&1 || true
  slot_everysec down >/dev/null 2>&1 || true
  stop_redis $redis_ports $aof_ports $tls_redis_ports
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting slotraft (3 nodes, fsync always)"
slot up >/dev/null
say "starting slotraft with fsync everysec, for reference (3 nodes, ports 7011-7013)"
slot_everysec up >/dev/null
# create_redis_cluster PORTS…: three masters and three replicas on these six ports (over their
# TLS ports when they are the TLS cluster's).
create_redis_cluster() {
  local port addrs=() cli=(redis-cli)
  [ "${1:0:3}" = 712 ] && cli+=("${tls_args[@]}")
  for port in "$@"; do
    start_redis "$port"
    [ "${port:0:3}" = 712 ] && port=$((port + 10))
    addrs+=("127.0.0.1:$port")
  done
  "${cli[@]}" --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes >"$work/redis/create-$1.log" 2>&1 \
    || die "redis-cli --cluster create failed; see $work/redis/create-$1.log"
  for port in "$@"; do
    until redis-cli -p "$port" CLUSTER INFO | grep -q 'cluster_state:ok'; do sleep 0.1; done
  done
}
say "starting Redis Cluster (3 masters, 3 replicas, no persistence)"
create_redis_cluster $redis_ports
say "starting a durable Redis Cluster for reference (3 masters, 3 replicas, appendfsync always)"
create_redis_cluster $aof_ports
if [ "$tls" = 1 ]; then
  say "starting Redis Cluster with TLS (3 masters, 3 replicas, no persistence, tls-cluster yes)"
  create_redis_cluster $tls_redis_ports
fi

# One redis-benchmark run of the tests $3 (set,get): prints "<test> <rps> <p50> <p99>" per test;
# over TLS (with the client certificate) when $4 is "tls".
bench_once() {
  local port="$1" pipeline="$2" tests="$3" n="$requests" over=()
  [ "$pipeline" = 1 ] || n="$requests_piped"
  [ "${4:-}" = tls ] && over=("${tls_args[@]}")
  redis-benchmark --cluster "${over[@]}" -p "$port" -t "$tests" -n "$n" -r 100000 -d 100 -c 50 \
    -P "$pipeline" --csv 2>/dev/null |
    awk -F'","|"' 'NR > 1 && $2 != "" { printf "%s %s %s %s\n", $2, $3, $6, $8 }'
}

results="$work/throughput.txt"
: >"$results"
for r in $(seq 1 "$rounds"); do
  order="slotraft redis durable everysec"
  [ "$tls" = 1 ] && order="$order slotraft-tls redis-tls"
  [ $((r % 2)) = 0 ] && order="$(echo "$order" | tr ' ' '\n' | tac | tr '\n' ' ')"
  for sys in $order; do
    port=7001 tests=set,get over=""
    [ "$sys" = redis ] && port=7101
    [ "$sys" = durable ] && port=7111 tests=set
    [ "$sys" = everysec ] && port=7011 tests=set
    [ "$sys" = slotraft-tls ] && port=7021 over=tls
    [ "$sys" = redis-tls ] && port=7131 over=tls
    for p in 1 16; do
      say "round $r/$rounds: $sys, -P $p"
      bench_once "$port" "$p" "$tests" "$over" | while read -r test rps p50 p99; do
        echo "$sys $test $p $rps $p50 $p99" >>"$results"
      done
    done
  done
done

# The rest of the run has no use for the reference clusters.
stop_redis $aof_ports $tls_redis_ports
slot_everysec down >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
stat() { awk -v s="$1" -v t="$2" -v p="$3" -v c="$4" '$1 == s && $2 == t && $3 == p { print $c }' "$results" | median; }
echo
echo "throughput: redis-benchmark --cluster, 100-byte values, -r 100000, 50 clients, $requests requests (-P 16: $requests_piped), median of $rounds round(s)"
echo "(redis-benchmark rounds each run's time up to a multiple of 250 ms: a run of T seconds reads up to 0.25/T slow)"
printf '%-12s %12s %8s %8s %12s %8s %8s %9s\n' workload "slotraft/s" p50 p99 "redis/s" p50 p99 ratio
for p in 1 16; do
  for t in SET GET; do
    s="$(stat slotraft "$t" "$p" 4)" r="$(stat redis "$t" "$p" 4)"
    ratio="$(awk -v a="$s" -v b="$r" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    printf '%-12s %12s %8s %8s %12s %8s %8s %9s\n' "$t -P $p" "$s" "$(stat slotraft "$t" "$p" 5)" \
      "$(stat slotraft "$t" "$p" 6)" "$r" "$(stat redis "$t" "$p" 5)" "$(stat redis "$t" "$p" 6)" "$ratio"
  done
done
# round_ratios OTHER TEST PIPELINE [SYSTEM]: SYSTEM (slotraft) / OTHER in each round, in order.
round_ratios() {
  paste -d' ' <(awk -v s="${4:-slotraft}" -v t="$2" -v p="$3" '$1 == s && $2 == t && $3 == p { print $4 }' "$results") \
    <(awk -v o="$1" -v t="$2" -v p="$3" '$1 == o && $2 == t && $3 == p { print $4 }' "$results") |
    awk '{ printf " %.2fx", ($2 > 0 ? $1 / $2 : 0) }'
}
# The ratio of each round's runs (the two systems ran back to back in it), so that a ratio
# near a target can be told from the run-to-run noise.
if [ "$rounds" -gt 1 ]; then
  echo "ratio round by round:"
  for p in 1 16; do
    for t in SET GET; do
      printf '  %-10s%s\n' "$t -P $p" "$(round_ratios redis "$t" "$p")"
    done
  done
fi

# set_table SYSTEM OTHER: SET's rows, SYSTEM against OTHER, medians and each round's ratio.
set_table() {
  local sys="$1" other="$2" p a b ratio
  printf '%-12s %12s %8s %8s %12s %8s %8s %9s\n' workload "$sys/s" p50 p99 "$other/s" p50 p99 ratio
  for p in 1 16; do
    a="$(stat "$sys" SET "$p" 4)" b="$(stat "$other" SET "$p" 4)"
    ratio="$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    printf '%-12s %12s %8s %8s %12s %8s %8s %9s\n' "SET -P $p" "$a" "$(stat "$sys" SET "$p" 5)" \
      "$(stat "$sys" SET "$p" 6)" "$b" "$(stat "$other" SET "$p" 5)" "$(stat "$other" SET "$p" 6)" "$ratio"
  done
  if [ "$rounds" -gt 1 ]; then
    echo "ratio round by round:"
    for p in 1 16; do printf '  %-10s%s\n' "SET -P $p" "$(round_ratios "$other" SET "$p" "$sys")"; done
  fi
}
# The same SETs against the Redis Cluster that fsyncs every write: what a Redis user who needs
# durability would run. It replies once its master has fsynced; its replica gets the write
# after that, so a failover can still lose it, where slotraft replies once a majority has it.
echo
echo "SET, every write fsynced before its reply: slotraft (on a majority's disks) against Redis Cluster"
echo "with appendonly yes, appendfsync always (\"durable\": on its master's disk), same runs, median of $rounds round(s)"
set_table slotraft durable
# And slotraft's SETs without the wait for the disk (fsync everysec) against Redis without
# persistence: how far the rest of a write's cost leaves it from Redis on this machine.
echo
echo "SET without the disk's wait: slotraft with fsync everysec against Redis Cluster without persistence,"
echo "same runs, median of $rounds round(s)"
set_table everysec redis

# tls_table: slotraft over TLS against slotraft plain (the same nodes) and Redis over TLS.
if [ "$tls" = 1 ]; then
  echo
  echo "over TLS (redis-benchmark --tls, client certificates; TLS 1.3): slotraft's TLS ports against its plain"
  echo "ports (the same nodes; target TLS >= 0.8x plain) and Redis Cluster with tls-cluster yes, same runs, median of $rounds round(s)"
  printf '%-12s %12s %8s %8s %12s %9s %12s %8s %8s %9s\n' workload "tls/s" p50 p99 "plain/s" "tls/plain" \
    "redis-tls/s" p50 p99 ratio
  for p in 1 16; do
    for t in SET GET; do
      a="$(stat slotraft-tls "$t" "$p" 4)" b="$(stat slotraft "$t" "$p" 4)" c="$(stat redis-tls "$t" "$p" 4)"
      printf '%-12s %12s %8s %8s %12s %9s %12s %8s %8s %9s\n' "$t -P $p" "$a" "$(stat slotraft-tls "$t" "$p" 5)" \
        "$(stat slotraft-tls "$t" "$p" 6)" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')" \
        "$c" "$(stat redis-tls "$t" "$p" 5)" "$(stat redis-tls "$t" "$p" 6)" \
        "$(awk -v a="$a" -v b="$c" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
    done
  done
  if [ "$rounds" -gt 1 ]; then
    echo "tls/plain round by round:"
    for p in 1 16; do
      for t in SET GET; do printf '  %-10s%s\n' "$t -P $p" "$(round_ratios slotraft "$t" "$p" slotraft-tls)"; done
    done
  fi
fi

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
slot_pids() { for id in 1 2 3; do cat "$work/slotraft/run/node-$id.pid"; done; }
if [ "$memory" = 1 ]; then
  echo
  say "memory: flushing, then loading ~$keys keys of 100 bytes into each system"
  # FLUSHALL empties the slots a node serves as master, in both systems: ask every node.
  for port in 7001 7002 7003 7101 7102 7103 7104 7105 7106; do redis-cli -p "$port" FLUSHALL >/dev/null 2>&1 || true; done
  # Three SETs per key of the key space: ~95% of it ends up set.
  for port in 7001 7101; do
    # In cluster mode each node's keys carry its own hash tag: $keys / 3 random keys per node.
    redis-benchmark --cluster -p "$port" -t set -n $((keys * 3)) -r $((keys / 3)) -d 100 -c 50 -P 16 -q >/dev/null 2>&1
  done
  sleep 2
  # DBSIZE counts the keys of the slots a node serves as master (leader), in both systems.
  skeys=0 rkeys=0
  for port in 7001 7002 7003; do skeys=$((skeys + $(redis-cli -p "$port" DBSIZE))); done
  for port in 7101 7102 7103 7104 7105 7106; do
    if redis-cli -p "$port" ROLE | head -1 | grep -q master; then rkeys=$((rkeys + $(redis-cli -p "$port" DBSIZE))); fi
  done
  echo "memory after loading: slotraft $skeys keys (every node holds all of them), Redis $rkeys keys"
  total=0
  for id in 1 2 3; do
    kb="$(rss_kb "$(cat "$work/slotraft/run/node-$id.pid")")"; total=$((total + kb))
    echo "  slotraft node $id: $((kb / 1024)) MiB resident"
  done
  rtotal=0
  for port in 7101 7102 7103 7104 7105 7106; do
    kb="$(rss_kb "$(redis_pid "$port")")"; rtotal=$((rtotal + kb))
    echo "  redis :$port ($(redis-cli -p "$port" ROLE | head -1)): $((kb / 1024)) MiB resident"
  done
  # Bytes per key per copy: slotraft keeps 3 copies (one per node), Redis 2 (master + replica).
  s_per="$(awk -v t="$total" -v k="$skeys" 'BEGIN { printf "%.0f", t * 1024 / (k * 3) }')"
  r_per="$(awk -v t="$rtotal" -v k="$rkeys" 'BEGIN { printf "%.0f", t * 1024 / (k * 2) }')"
  echo "  resident bytes per key per copy: slotraft $s_per, Redis $r_per ($(awk -v a="$s_per" -v b="$r_per" 'BEGIN { printf "%.2fx", a / b }'))"
fi

if [ "$failover" = 1 ]; then
  echo
  say "failover: slotraft, $failovers run(s)"
  SLOTRAFT_CONFIG="$work/slotraft/cluster.toml" SLOTRAFT_RUN_DIR="$work/slotraft/run" SLOTRAFT_BIN="$bin" \
    "$root/scripts/failover-time.sh" "$failovers" | sed 's/^/  slotraft /'
  say "failover: Redis Cluster (cluster-node-timeout 5000), $failovers run(s)"
  times=()
  key="{06S}x" # slot 0
  for run in $(seq 1 "$failovers"); do
    port="$(redis-cli -p 7101 CLUSTER NODES | awk '$3 ~ /master/ && $3 !~ /fail/ && $9 ~ /^0(-|$)/ { split($2, a, "[:@]"); print a[2] }')"
    [ -n "$port" ] || port="$(redis-cli -p 7102 CLUSTER NODES | awk '$3 ~ /master/ && $3 !~ /fail/ && $9 ~ /^0(-|$)/ { split($2, a, "[:@]"); print a[2] }')"
    other=7101; [ "$port" = 7101 ] && other=7102
    start=$(date +%s%N)
    kill -KILL "$(redis_pid "$port")"
    until [ "$(timeout 5 redis-cli -c -p "$other" SET "$key" "$run" 2>/dev/null)" = "OK" ]; do sleep 0.01; done
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    times+=("$ms")
    echo "  redis run $run: killed the master of slot 0 (:$port); a write succeeded again after $ms ms"
    start_redis "$port"
    # The old master rejoins as a replica; wait until the cluster is whole again.
    until redis-cli -p "$port" CLUSTER INFO | grep -q 'cluster_state:ok' \
      && [ "$(redis-cli -p "$port" ROLE | sed -n 4p)" = connected ]; do sleep 0.1; done
  done
  echo "  redis failover median over $failovers runs: $(printf '%s\n' "${times[@]}" | median) ms"
fi

if [ "$memory" = 1 ]; then
  echo
  say "recovery: SIGKILL slotraft node 2 (holding $skeys keys), restart it, time until it serves them"
  probe="$(redis-cli -p 7001 RANDOMKEY)"
  slot kill 2 >/dev/null
  start=$(date +%s%N)
  slot start 2 >/dev/null
  # READONLY: read the node's own copy, so the answer proves its data is loaded.
  until [ -n "$(printf 'READONLY\r\nGET %s\r\n' "$probe" | timeout 2 redis-cli -p 7002 2>/dev/null | sed -n 2p)" ]; do sleep 0.05; done
  echo "recovery: node 2 served its $skeys keys again $(( ($(date +%s%N) - start) / 1000000 )) ms after it was started"
fi

if [ "$micro" = 1 ]; then
  cleanup # the clusters are done with; the micro-benchmarks get the machine to themselves
  echo
  say "micro-benchmarks (cargo bench --bench micro)"
  (cd "$root" && cargo bench --quiet --bench micro 2>/dev/null) | grep -v '^$' || die "cargo bench failed"
fi
