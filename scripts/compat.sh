#!/usr/bin/env bash
# Measures compatibility with an independent Redis test suite: redis-py's own tests (from its
# PyPI source release), run through redis-py's RedisCluster against a fresh slotraft cluster.
#
#   scripts/compat.sh [--nodes 1|3] [--protocol 2|3] [--tests "test_commands.py test_hash.py"]
#                     [-k EXPR]
#
# Prints passed / failed / skipped, then the failures grouped by their first error line, and
# keeps the full pytest log. Tests redis-py runs only against a standalone server
# (onlynoncluster), or that need modules, TLS or a replica setup, are deselected as in
# redis-py's own cluster CI. The cluster runs on free ports in a temporary directory and is
# stopped on exit, also when interrupted.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes=3
protocol=2
tests="test_commands.py test_cluster.py test_pubsub.py test_pipeline.py test_hash.py test_encoding.py"
kexpr=""
redis_py="5.2.1"
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --protocol) protocol="$2"; shift 2 ;;
    --tests) tests="$2"; shift 2 ;;
    -k) kexpr="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "compat.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$nodes" in 1|3) ;; *) echo "compat.sh: --nodes is 1 or 3" >&2; exit 2 ;; esac
case "$protocol" in 2|3) ;; *) echo "compat.sh: --protocol is 2 or 3" >&2; exit 2 ;; esac

work="$root/target/compat"
mkdir -p "$work"

# redis-py and its test suite (the sdist carries tests/), in a virtualenv of their own.
"$root/scripts/setup.sh"
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
  echo "compat: installing python3-venv"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
venv="$work/venv"
if [ ! -x "$venv/bin/pytest" ]; then
  echo "compat: creating a virtualenv with redis-py $redis_py and pytest"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "redis==$redis_py" pytest pytest-timeout packaging
fi
suite="$work/redis-$redis_py"
if [ ! -d "$suite/tests" ]; then
  echo "compat: fetching redis-py $redis_py's test suite"
  "$venv/bin/pip" download -q --no-deps --no-binary :all: "redis==$redis_py" -d "$work/dl"
  tar xzf "$work/dl/redis-$redis_py.tar.gz" -C "$work"
fi

echo "compat: building slotraft (release)"
(cd "$root" && cargo build --release --quiet --bin slotraft)

tmp="$(mktemp -d)"
cleanup() {
  SLOTRAFT_CONFIG="$tmp/cluster.toml" SLOTRAFT_BIN="$root/target/release/slotraft" \
    SLOTRAFT_RUN_DIR="$tmp/run" "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Every port is picked while the sockets of the others are still held, so none comes out twice.
read -r -a ports <<<"$(python3 -c '
import socket, sys
held = [socket.socket() for _ in range(2 * int(sys.argv[1]))]
for s in held: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in held))' "$nodes")"
{
  echo "[cluster]"
  echo "data_dir = \"$tmp/data\""
  for i in $(seq 1 "$nodes"); do
    echo "[[node]]"
    echo "id = $i"
    echo "resp = \"127.0.0.1:${ports[2 * i - 2]}\""
    echo "rpc = \"127.0.0.1:${ports[2 * i - 1]}\""
  done
  members="$(seq -s, 1 "$nodes")"
  echo "[[group]]"; echo "id = 1"; echo "members = [$members]"; echo 'slots = ["0-5460"]'
  echo "[[group]]"; echo "id = 2"; echo "members = [$members]"; echo 'slots = ["5461-10922"]'
  echo "[[group]]"; echo "id = 3"; echo "members = [$members]"; echo 'slots = ["10923-16383"]'
} >"$tmp/cluster.toml"
SLOTRAFT_CONFIG="$tmp/cluster.toml" SLOTRAFT_BIN="$root/target/release/slotraft" \
  SLOTRAFT_RUN_DIR="$tmp/run" "$root/scripts/cluster.sh" up | tail -n 2
port="$(grep -m1 '^resp' "$tmp/cluster.toml" | sed 's/.*:\([0-9]*\)"/\1/')"

log="$work/nodes$nodes-resp$protocol.log"
paths=()
for t in $tests; do paths+=("tests/$t"); done
echo "compat: redis-py $redis_py tests (${tests}) against $nodes node(s), RESP$protocol; log in $log"
set +e
(cd "$suite" && timeout 3600 "$venv/bin/python" -m pytest "${paths[@]}" \
  -m "not onlynoncluster and not redismod and not ssl and not replica" ${kexpr:+-k "$kexpr"} \
  --redis-url="redis://127.0.0.1:$port" --redis-cluster-nodes="$nodes" --protocol="$protocol" \
  -q --timeout 30 -p no:cacheprovider -W ignore -rf >"$log" 2>&1)
set -e

"$venv/bin/python" - "$log" <<'EOF'
import collections, re, sys
text = open(sys.argv[1]).read()
summary = [l for l in text.splitlines() if re.search(r"\d+ (passed|failed).* in [\d.]+s", l)]
print("compat: " + (summary[-1].strip("= ") if summary else "no summary (see the log)"))
first, current = {}, None
for line in text.splitlines():
    m = re.match(r"^_{3,} (.*) _{3,}$", line)
    if m:
        current = m.group(1)
    elif current and line.startswith("E ") and current not in first:
        first[current] = line[1:].strip()
groups = collections.defaultdict(list)
for test, err in first.items():
    key = re.sub(r"with args beginning with: .*", "", err)
    key = re.sub(r"\d+", "N", key)[:110]
    groups[key].append(test.split(".")[-1])
for key, tests in sorted(groups.items(), key=lambda kv: -len(kv[1])):
    print(f"{len(tests):4d}  {key}\n      {' '.join(tests[:5])}{' …' if len(tests) > 5 else ''}")
EOF
