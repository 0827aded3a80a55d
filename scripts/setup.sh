#!/usr/bin/env bash
# Installs what building (and, with --test, testing) slotraft needs on Debian. Idempotent:
# anything already present is left alone.
set -euo pipefail

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

if ! command -v cc >/dev/null 2>&1; then
  echo "setup: installing a C compiler (build-essential)"
  apt_install build-essential
fi

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup"
  command -v curl >/dev/null 2>&1 || apt_install curl ca-certificates
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  export PATH="$HOME/.cargo/bin:$PATH"
fi

# redis-py 8 (tests/cluster/redis_py.rs): its RedisCluster routes by COMMAND's tips and key
# specifications. In a virtualenv of its own, at the path the test looks in.
redis_py8="8.2.0"
redis_py8_venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/target/redis-py8"

if [ "$want_test" = 1 ]; then
  if ! command -v redis-cli >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
    echo "setup: installing redis-tools (redis-cli, redis-benchmark) for the tests"
    apt_install redis-tools
  fi
  if ! command -v iptables >/dev/null 2>&1 || ! command -v ip >/dev/null 2>&1; then
    echo "setup: installing iptables and iproute2 (fault injection in scripts/chaos.sh)"
    apt_install iptables iproute2
  fi
  if ! "$redis_py8_venv/bin/python" -c "import redis, sys; sys.exit(redis.__version__ != '$redis_py8')" 2>/dev/null; then
    echo "setup: installing redis-py $redis_py8 in $redis_py8_venv for the tests"
    if ! command -v python3 >/dev/null 2>&1 || ! python3 -m venv --help >/dev/null 2>&1; then
      apt_install python3 python3-venv
    fi
    rm -rf "$redis_py8_venv"
    # Debian's python3 makes a venv only with python3-venv (ensurepip) installed.
    python3 -m venv "$redis_py8_venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$redis_py8_venv"; }
    "$redis_py8_venv/bin/pip" install -q "redis==$redis_py8"
  fi
fi
