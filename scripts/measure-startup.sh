#!/usr/bin/env bash
# Cold start-up time (process start to first 200 on /healthz, on an empty data
# directory) and idle memory (RSS after 2 s) of the portal, beside a minimal Fiber
# server measured the same way in the same run.  Usage: scripts/measure-startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -o "$bin/portal" .
CGO_ENABLED=0 go build -o "$bin/baseline" ./scripts/baseline

port=$((20000 + RANDOM % 20000))
measure() { # name binary -> prints "ms rss_kib" per run
  local name=$1 exe=$2
  for _ in $(seq "$runs"); do
    local data; data=$(mktemp -d)
    local start; start=$(date +%s%N)
    PORTAL_ADDR=127.0.0.1:$port PORTAL_DATA_DIR=$data "$exe" >/dev/null 2>&1 &
    local pid=$!
    until curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do sleep 0.002; done
    local end; end=$(date +%s%N)
    sleep 2
    local rss; rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    rm -rf "$data"
    echo "$name $(( (end - start) / 1000000 )) $rss"
  done
}
results=$( { measure portal "$bin/portal"; measure baseline "$bin/baseline"; } )
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
p_ms=$(echo "$results" | awk '$1=="portal"{print $2}' | median)
p_rss=$(echo "$results" | awk '$1=="portal"{print $3}' | median)
b_ms=$(echo "$results" | awk '$1=="baseline"{print $2}' | median)
b_rss=$(echo "$results" | awk '$1=="baseline"{print $3}' | median)
echo "median of $runs runs          start-up   idle RSS"
printf 'portal (fresh data dir)     %5d ms   %6d KiB\n' "$p_ms" "$p_rss"
printf 'minimal Fiber server        %5d ms   %6d KiB\n' "$b_ms" "$b_rss"
awk -v a="$p_ms" -v b="$b_ms" -v c="$p_rss" -v d="$b_rss" 'BEGIN {printf "ratio portal/minimal        %5.1fx      %5.1fx\n", a/(b>0?b:1), c/d}'
