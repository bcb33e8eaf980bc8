# shellcheck shell=bash
# Sourced by ./freqfusion, tornado-kernels/run-tests.sh and the tornado container: defines the JVM flags that run
# FreqFusion under TornadoVM from the SDK at $TORNADOVM_HOME.
#   TORNADO_JVM_FLAGS      bash array for a java command line (uses the SDK's argfile: @$TORNADOVM_HOME/tornado-argfile)
#   tornado_flags_inline   prints the same flags with the argfile expanded, on one line (for surefire's argLine,
#                          which goes through surefire's own argument file, where nested @files are not expanded)
# The SDK's argfile holds the module path (TornadoVM + Graal jars), --enable-preview, JVMCI, the native library path
# and the exports. Added here:
#   -Dtornado.recover.bailout=False  a kernel TornadoVM cannot compile is an error, never a silent run in plain Java
#   -Dtornado.tvm.maxbytecodesize    TornadoVM's per-graph bytecode buffer (default 4096 bytes) is too small for a whole
#                                    FreqFusion forward with the offset generator (~35 tasks): the graph then fails to
#                                    schedule with a bare "Recover option disabled"
#   --add-opens ...                  lets the backend clear TornadoVM's profiler log after reading it (else it grows)
# Never add a JVM-wide -ea: it breaks TornadoVM's start-up (use -ea:io.freqfusion... for our packages).
if [ -z "${TORNADOVM_HOME:-}" ] || [ ! -d "$TORNADOVM_HOME" ]; then
  echo "tornado-jvm-flags.sh: TORNADOVM_HOME must point to a TornadoVM SDK, got '${TORNADOVM_HOME:-}'" >&2
  return 2 2>/dev/null || exit 2
fi
# The SDK's argfile has absolute paths: if it is missing or was generated for another location (SDK moved or
# unpacked from a release), generate one from the SDK's template.
TORNADO_ARGFILE="$TORNADOVM_HOME/tornado-argfile"
if [ -f "$TORNADOVM_HOME/tornado-argfile.template" ] && { [ ! -f "$TORNADO_ARGFILE" ] || ! grep -q -- "--module-path .*$TORNADOVM_HOME/share/java/tornado" "$TORNADO_ARGFILE"; }; then
  TORNADO_ARGFILE="${TMPDIR:-/tmp}/freqfusion-tornado-argfile-$(id -u)"
  sed "s|\${TORNADOVM_HOME}|$TORNADOVM_HOME|g" "$TORNADOVM_HOME/tornado-argfile.template" > "$TORNADO_ARGFILE"
fi
if [ ! -f "$TORNADO_ARGFILE" ]; then
  echo "tornado-jvm-flags.sh: $TORNADOVM_HOME has neither tornado-argfile nor tornado-argfile.template: not a TornadoVM SDK" >&2
  return 2 2>/dev/null || exit 2
fi

TORNADO_EXTRA_FLAGS=(
  -Dtornado.recover.bailout=False
  -Dtornado.tvm.maxbytecodesize=65536
  --add-opens=tornado.api/uk.ac.manchester.tornado.api=ALL-UNNAMED
  --add-opens=tornado.runtime/uk.ac.manchester.tornado.runtime.tasks=ALL-UNNAMED
)
# shellcheck disable=SC2034
TORNADO_JVM_FLAGS=("@$TORNADO_ARGFILE" "${TORNADO_EXTRA_FLAGS[@]}")

tornado_flags_inline() {
  # argfile lines without comments/blank lines; each line holds one option (or option and value)
  { grep -v '^[[:space:]]*#' "$TORNADO_ARGFILE" | grep -v '^[[:space:]]*$'; printf '%s\n' "${TORNADO_EXTRA_FLAGS[@]}"; } | tr '\n' ' '
}
