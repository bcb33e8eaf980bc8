#!/usr/bin/env bash
# Builds the TornadoVM kernels against the core and runs their tests on a TornadoVM device (PoCL's CPU OpenCL device
# on a machine without a GPU): every ../shared/golden case through FusionRunner, the CLI (./freqfusion fuse --backend
# tornado) on golden files, the profiler API, and bailout-is-an-error.
#   TORNADOVM_HOME   the SDK (default /opt/tornadovm-sdk)
#   FREQFUSION_TORNADO_DEVICE   B:D (default 0:0)
#   TK_TEST=Pattern  run only matching test classes (surefire -Dtest)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
cd "$ROOT"
export TORNADOVM_HOME="${TORNADOVM_HOME:-/opt/tornadovm-sdk}"
for c in "${FREQFUSION_JAVA_HOME:-}" "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64; do
  [ -n "$c" ] && [ -x "$c/bin/java" ] && "$c/bin/java" -version 2>&1 | head -1 | grep -qE '"(2[5-9]|[3-9][0-9])' && { export JAVA_HOME="$c"; break; }
done
export PATH="$JAVA_HOME/bin:$PATH"
# shellcheck disable=SC1091
source "$HERE/tornado-jvm-flags.sh"

echo "tornado-kernels: SDK $TORNADOVM_HOME; devices:"
"$TORNADOVM_HOME/bin/tornado" --devices 2>/dev/null | grep -E 'Tornado device=|Backend|OpenCL' | head -8 || true

echo "tornado-kernels: installing the core (io.freqfusion:freqfusion-serve) ..."
mvn -q -B -ntp -DskipTests install
# the CLI test runs ./freqfusion, which needs the core's run-time class path file
mvn -q -B -ntp dependency:build-classpath -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >/dev/null

echo "tornado-kernels: building and testing on device ${FREQFUSION_TORNADO_DEVICE:-0:0} ..."
LOG="$HERE/target/run-tests.log"
mkdir -p "$HERE/target"
set +e
mvn -B -ntp -f "$HERE/pom.xml" package \
  "-Dtornado.jvm.flags=$(tornado_flags_inline)" \
  "-Dfreqfusion.tornado.device=${FREQFUSION_TORNADO_DEVICE:-0:0}" \
  ${TK_TEST:+-Dtest=$TK_TEST} -Dsurefire.failIfNoSpecifiedTests=false 2>&1 | tee "$LOG" | grep -E '^\[tornado\]|Tests run:|FAIL|ERROR|BUILD' 
rc=${PIPESTATUS[0]}
set -e
echo "----------------------------------------------------------------------"
grep -E '^\[INFO\] Tests run:|^\[ERROR\] Tests run:' "$LOG" | tail -1 || true
if [ "$rc" = 0 ]; then
  dev="$(grep -m1 '\[tornado\] device:' "$LOG" | sed 's/.*device: //' || true)"
  echo "tornado-kernels: ALL TESTS PASSED on ${dev:-device ${FREQFUSION_TORNADO_DEVICE:-0:0}}"
else
  echo "tornado-kernels: TESTS FAILED (rc=$rc); full log: $LOG" >&2
fi
exit "$rc"
