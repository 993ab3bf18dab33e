#!/usr/bin/env bash
# Starts a throw-away single-member etcd on 127.0.0.1 (clients :2379, peers
# :2380) in the foreground, for benchmarks (octobench compare). It installs
# the Debian package etcd-server first if no etcd is on the PATH.
#
#   scripts/etcd-start.sh [DATA_DIR]
#
# With DATA_DIR the script execs etcd on it and the caller removes it
# afterwards. Without, it uses a temp dir and removes it when etcd stops.
# Extra etcd flags can be passed in ETCD_EXTRA_ARGS.
set -euo pipefail

if ! command -v etcd >/dev/null 2>&1; then
  echo "etcd-start: etcd not found; installing the Debian package etcd-server" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  # The package's service is not started here: policy-rc.d or the lack of
  # systemd in containers prevents it, and we want our own instance anyway.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq etcd-server >&2
fi

args=(
  --name octobench
  --listen-client-urls http://127.0.0.1:2379
  --advertise-client-urls http://127.0.0.1:2379
  --listen-peer-urls http://127.0.0.1:2380
  --initial-advertise-peer-urls http://127.0.0.1:2380
  --initial-cluster octobench=http://127.0.0.1:2380
  --initial-cluster-state new
  --logger zap
  --log-level warn
)
# shellcheck disable=SC2206 # word splitting of the extra flags is intended
args+=(${ETCD_EXTRA_ARGS:-})

if [ $# -ge 1 ]; then
  mkdir -p "$1"
  exec etcd --data-dir "$1" "${args[@]}"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/etcd-data.XXXXXX")
etcd --data-dir "$tmp" "${args[@]}" &
pid=$!
cleanup() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
wait "$pid"
