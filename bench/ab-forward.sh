#!/usr/bin/env bash
# Whole-forward A/B of two checkouts in one JVM (bench/ab/AbForward.java): alternating blocks of forwards, the
# per-round ratio B/A printed. Both checkouts are built with their own launcher first (./freqfusion info).
#   bench/ab-forward.sh DIR_A DIR_B [WORKLOAD=W2] [CONFIG=default] [ROUNDS=9] [PER_ROUND=20] [THREADS=2]
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
A=$(cd "$1" && pwd); B=$(cd "$2" && pwd)
WORKLOAD=${3:-W2}; CONFIG=${4:-default}; ROUNDS=${5:-9}; PER=${6:-20}; THREADS=${7:-2}
JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
for d in "$A" "$B"; do (cd "$d" && ./freqfusion info >/dev/null); done
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
javac -d "$OUT" "$HERE/ab/AbForward.java"
THP=()
grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && THP=(-XX:+UseTransparentHugePages)
java --add-modules=jdk.incubator.vector -XX:+UseParallelGC "${THP[@]}" -cp "$OUT" AbForward \
  "$(cat "$A/target/classpath.txt")" "$A/target/classes" "$B/target/classes" "$WORKLOAD" "$CONFIG" "$ROUNDS" "$PER" "$THREADS" \
  2>&1 | grep -v '^WARNING: Using incubator modules'
