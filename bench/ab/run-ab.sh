# Shared by bench/ab-forward.sh and bench/ab-kernel.sh (sourced).

# ab_need MIN SCRIPT ARGC: with fewer than MIN arguments, prints the script's usage (its lines 2-4) and exits 2.
ab_need() {
  if [ "$3" -lt "$1" ]; then
    sed -n '2,4p' "$2" | sed 's/^# \{0,1\}//'
    exit 2
  fi
}

# ab_run DRIVER DIR_A DIR_B [driver arguments after the two class folders ...]: builds both checkouts with their own
# launcher, compiles the A/B driver and runs it in one JVM with the launcher's flags.
ab_run() {
  local driver="$1" a b here
  a=$(cd "$2" && pwd); b=$(cd "$3" && pwd); shift 3
  JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
  export JAVA_HOME PATH="$JAVA_HOME/bin:$PATH"
  for d in "$a" "$b"; do (cd "$d" && ./freqfusion info >/dev/null); done
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  AB_OUT=$(mktemp -d)                       # global: the EXIT trap runs after this function has returned
  trap 'rm -rf "$AB_OUT"' EXIT
  javac -d "$AB_OUT" "$here/$driver.java" "$here/AbHarness.java"
  local thp=()
  grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && thp=(-XX:+UseTransparentHugePages)
  java --add-modules=jdk.incubator.vector -XX:+UseParallelGC "${thp[@]}" -cp "$AB_OUT" "$driver" \
    "$(cat "$a/target/classpath.txt")" "$a/target/classes" "$b/target/classes" "$@" \
    2>&1 | grep -v '^WARNING: Using incubator modules'
}
