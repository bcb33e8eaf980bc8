#!/usr/bin/env bash
# The whole forward of two checkouts in alternating fresh processes (A, B, A, B, ...): each process's median, the
# vCPUs' distance before it, and the median of the pair ratios B/A. For changes that move memory traffic, which the
# in-process A/B (ab-forward.sh) misjudges.
#   bench/ab-processes.sh DIR_A DIR_B [WORKLOAD=W2] [PAIRS=10] [CONFIG=default] [RUNS=300]
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
a=$(cd "$1" && pwd); b=$(cd "$2" && pwd); workload=${3:-W2}; pairs=${4:-10}; config=${5:-default}; runs=${6:-300}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for d in "$a" "$b"; do (cd "$d" && ./freqfusion info > /dev/null); done
# the vCPUs' distance (tools/vcpu-pingpong.c, ~30-40 ns on one CCD, ~160-190 on two: see PERFORMANCE.md); needs cc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pingpong=""
if command -v cc > /dev/null 2>&1 && cc -O2 -pthread -o "$tmp/vcpu-pingpong" "$here/tools/vcpu-pingpong.c" 2> /dev/null; then
  pingpong="$tmp/vcpu-pingpong"
fi
median() { "$1/freqfusion" bench --workload "$workload" --config "$config" --runs "$runs" --warmup 100 2> /dev/null \
  | tail -1 | sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p'; }
echo "pair side vcpu_ns median_ms"
for i in $(seq "$pairs"); do
  for side in A B; do
    d=$a; [ "$side" = B ] && d=$b
    ns=-; [ -n "$pingpong" ] && ns=$("$pingpong" 1)
    echo "$i $side $ns $(median "$d")"
  done
done | tee "$tmp/log"
ratios=$(awk '$2 == "A" { a[$1] = $4 } $2 == "B" { b[$1] = $4 }
             END { for (i in a) if ((i in b) && a[i] > 0) printf "%.4f\n", b[i] / a[i] }' "$tmp/log" | sort -n)
n=$(echo "$ratios" | grep -c .)
echo "$ratios" | awk -v n="$n" -v w="$workload" -v c="$config" '{ r[NR] = $1 }
  END { m = n % 2 ? r[(n + 1) / 2] : (r[n / 2] + r[n / 2 + 1]) / 2
        printf "%s %s: median pair ratio B/A %.3f over %d pairs (min %.3f, max %.3f)\n", w, c, m, n, r[1], r[n] }'
