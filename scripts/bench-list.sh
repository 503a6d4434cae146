#!/usr/bin/env bash
# The customer list at 100,000 customers against 1,000, measured in the same run over
# HTTP: the first page, a search and a deep page. Prints each time and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test ./web -run XXX -bench BenchmarkCustomerList -benchtime "${1:-300x}" -count 1)
echo "$out" | grep '^Benchmark'
echo "$out" | awk '/^BenchmarkCustomerList/ {
  split($1, p, "/"); kind = p[2]; n = p[3]; sub(/-[0-9]+$/, "", n); ns[kind, n] = $3
} END {
  for (k in ns) { split(k, q, SUBSEP); kinds[q[1]] = 1 }
  for (kind in kinds) printf "%-7s 100k/1k = %.2f\n", kind, ns[kind, "n=100000"] / ns[kind, "n=1000"]
}'
