#!/usr/bin/env bash
# One load-test run against a locally started FreqFusion Serve, with server-side charts of the same run.
#   loadtest/run.sh SIMULATION SCENARIO [extra -Dname=value ...]
#     SIMULATION: rest-binary | rest-json | grpc
#     SCENARIO:   steady | ramp | spike | overload
#   e.g. loadtest/run.sh rest-binary steady -Dworkload=w1 -Drate=6 -Dduration=45
# Environment: TARGET_HOST (127.0.0.1), HTTP_PORT (8080), GRPC_PORT (9000). Loopback only.
# Output: loadtest/results/<simulation>-<scenario>-<workload>-<time>/{gatling/,server/index.html,metrics.csv,...}
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
sim="${1:?simulation: rest-binary | rest-json | grpc}"; scenario="${2:?scenario: steady | ramp | spike | overload}"; shift 2
HOST="${TARGET_HOST:-127.0.0.1}"; HTTP_PORT="${HTTP_PORT:-8080}"; GRPC_PORT="${GRPC_PORT:-9000}"
case "$HOST" in 127.*|localhost|::1) ;; *) echo "run.sh: only loopback targets (TARGET_HOST=$HOST refused)" >&2; exit 2;; esac
for c in /usr/lib/jvm/temurin-25-jdk-amd64 "${JAVA_HOME:-}"; do [ -x "$c/bin/java" ] && export JAVA_HOME="$c" && break; done
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
workload=w1; for a in "$@"; do case "$a" in -Dworkload=*) workload="${a#-Dworkload=}";; esac; done
run="$sim-$scenario-$workload-$(date +%Y%m%d-%H%M%S)"
out="$HERE/results/$run"; mkdir -p "$out"
curl -fsS "http://$HOST:$HTTP_PORT/q/health/ready" >/dev/null || { echo "run.sh: service not ready at http://$HOST:$HTTP_PORT/q/health/ready (start it: QUARKUS_HTTP_PORT=$HTTP_PORT QUARKUS_GRPC_SERVER_PORT=$GRPC_PORT ./freqfusion serve)" >&2; exit 2; }

"$PY" scripts/scrape_metrics.py --url "http://$HOST:$HTTP_PORT/q/metrics" --out "$out/metrics.csv" --interval 1 --duration 900 &
scraper=$!
trap 'kill $scraper 2>/dev/null || true' EXIT
sleep 3   # a baseline scrape before the load
common=(-B -q "-Dtarget.host=$HOST" "-Dtarget.httpPort=$HTTP_PORT" "-Dtarget.grpcPort=$GRPC_PORT" "-Dscenario=$scenario" "-Dloadtest.results=$out" "$@")
rc=0
case "$sim" in
  rest-binary|rest-json)
    class=io.freqfusion.loadtest.RestBinarySimulation; [ "$sim" = rest-json ] && class=io.freqfusion.loadtest.RestJsonSimulation
    mvn "${common[@]}" test-compile gatling:test "-Dgatling.simulationClass=$class" 2>&1 | tee "$out/client.log" || rc=$?
    rep="$(ls -dt target/gatling/*/ 2>/dev/null | head -1)"
    [ -n "$rep" ] && cp -r "$rep" "$out/gatling" ;;
  grpc)
    mvn "${common[@]}" test-compile exec:java 2>&1 | tee "$out/client.log" || rc=$? ;;
  *) echo "run.sh: unknown simulation $sim" >&2; exit 2 ;;
esac
sleep 3   # the tail of the run
kill $scraper 2>/dev/null || true; wait $scraper 2>/dev/null || true
"$PY" scripts/render_server_charts.py --csv "$out/metrics.csv" --out "$out/server" --title "$run" || echo "run.sh: charts failed" >&2
echo "run.sh: results in $out (client: ${rep:+$out/gatling/index.html, }$out/client.log; server: $out/server/index.html); exit $rc"
exit $rc
