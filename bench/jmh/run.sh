#!/usr/bin/env bash
# Builds the JMH benchmarks (bench/jmh) against the current root sources and runs them with the GC profiler
# (allocation per operation: gc.alloc.rate.norm, B/op). JSON results go to bench/results/jmh-<UTC time>.json.
#
#   bench/jmh/run.sh                         # every benchmark (kernels at W2 shapes, whole forward W1..FPN4)
#   bench/jmh/run.sh 'Carafe|Conv1x1'        # a regex over benchmark names, as JMH takes it
#   bench/jmh/run.sh Forward -p workload=W2 -p threads=2   # anything after the regex goes to JMH as is
#
# Environment: JMH_OPTS (extra JMH options, e.g. "-f 1 -wi 2 -i 3" for a quick look), SKIP_INSTALL=1 (use the
# freqfusion-serve already installed in ~/.m2), SKIP_BUILD=1 (reuse bench/jmh/target/benchmarks.jar),
# BASE=DIR (install freqfusion-serve from DIR instead of the repository root, e.g. a clean
# `git worktree add /tmp/jmh-base HEAD` while the root has in-progress work that does not build).
set -euo pipefail
JMH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$JMH_DIR/../.." && pwd)"
BASE="${BASE:-$ROOT}"
for c in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64; do
  if [ -n "$c" ] && [ -x "$c/bin/java" ] && "$c/bin/java" -version 2>&1 | head -1 | grep -qE '"(2[5-9]|[3-9][0-9])[".]'; then
    export JAVA_HOME="$c"; break
  fi
done
[ -n "${JAVA_HOME:-}" ] || { echo "jmh/run.sh: JDK 25 required (set JAVA_HOME)" >&2; exit 2; }
export PATH="$JAVA_HOME/bin:$PATH"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  if [ "${SKIP_INSTALL:-0}" != 1 ]; then
    echo "jmh/run.sh: installing freqfusion-serve from $BASE (tests skipped)" >&2
    (cd "$BASE" && mvn -B -q -DskipTests install >&2)
  fi
  echo "jmh/run.sh: building bench/jmh/target/benchmarks.jar" >&2
  (cd "$JMH_DIR" && mvn -B -q package >&2)
fi

REGEX="${1:-.*}"
[ $# -gt 0 ] && shift
mkdir -p "$ROOT/bench/results"
OUT="$ROOT/bench/results/jmh-$(date -u +%Y%m%dT%H%M%SZ).json"
echo "jmh/run.sh: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; results -> $OUT" >&2
# shellcheck disable=SC2086
java --add-modules=jdk.incubator.vector -jar "$JMH_DIR/target/benchmarks.jar" "$REGEX" \
  -prof gc -rf json -rff "$OUT" ${JMH_OPTS:-} "$@"
echo "jmh/run.sh: results in $OUT" >&2
