#!/usr/bin/env bash
# What a client sees over REST against what the forward costs: starts the service (built-in models, CPU backend),
# sends binary-extension requests one at a time (W2, W3: the single module `freqfusion`, all outputs binary; FPN4:
# `freqfusion-fpn`, the levels y1..y4), then stops it and runs `./freqfusion bench` for the same workloads and outputs
# in the same run, and prints per workload the REST median / p90 / max, the forward's median and their ratio (the
# serving overhead: reading the body, parsing, queueing, encoding, writing the response).
#
#   bench/serve-latency.sh                        # W2 W3 FPN4, 40 requests each after 30 warm-up requests (the
#                                                 # transport's own code is JIT-compiled by then)
#   bench/serve-latency.sh --workloads W2 --requests 100
#
# Needs python3 with numpy (the request bodies). Not part of CI; run it on a quiet machine.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
WORKLOADS="W2,W3,FPN4" REQUESTS=40 WARMUP=30 PORT=18090 GRPC_PORT=19090
while [ $# -gt 0 ]; do
  case "$1" in
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --requests) REQUESTS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --port) PORT="$2"; shift 2 ;;
    *) echo "usage: $0 [--workloads W2,W3,FPN4] [--requests N] [--warmup N] [--port P]" >&2; exit 2 ;;
  esac
done
PY="$(command -v /usr/bin/python3 || command -v python3)"
"$PY" -c 'import numpy' 2>/dev/null || { echo "serve-latency: needs python3 with numpy (apt-get install python3-numpy)" >&2; exit 2; }

OUT="bench/results/serve-latency-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
./freqfusion info > /dev/null                                   # build outside the timings
QUARKUS_HTTP_PORT="$PORT" QUARKUS_GRPC_SERVER_PORT="$GRPC_PORT" ./freqfusion serve > "$OUT/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "localhost:$PORT/v2/health/ready")" = 200 ] && break
  kill -0 $SERVER 2>/dev/null || { echo "serve-latency: the service exited (see $OUT/serve.log)" >&2; exit 1; }
  sleep 1
done

"$PY" - "$PORT" "$WORKLOADS" "$REQUESTS" "$WARMUP" > "$OUT/rest.jsonl" <<'PY'
import json, socket, sys, time
import numpy as np
port, workloads, n, warm = int(sys.argv[1]), sys.argv[2].split(','), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(1)

def body(model, inputs, outputs):
    header = {"inputs": [{"name": k, "datatype": "FP32", "shape": list(v.shape), "parameters": {"binary_data_size": v.nbytes}}
                         for k, v in inputs.items()],
              "outputs": [{"name": o, "parameters": {"binary_data": True}} for o in outputs]}
    h = json.dumps(header).encode()
    return model, len(h), h + b''.join(v.astype('<f4').tobytes() for v in inputs.values())

def request(model, hlen, data):
    head = (f"POST /v2/models/{model}/infer HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
            f"Inference-Header-Content-Length: {hlen}\r\nContent-Length: {len(data)}\r\n\r\n").encode()
    s = socket.create_connection(('localhost', port)); s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    t0 = time.perf_counter(); s.sendall(head); s.sendall(data)
    buf = b''
    while b'\r\n\r\n' not in buf: buf += s.recv(1 << 16)
    hdr, _, rest = buf.partition(b'\r\n\r\n')
    status = int(hdr.split(b' ')[1])
    length = int(next(l.split(b':')[1] for l in hdr.split(b'\r\n') if l.lower().startswith(b'content-length')))
    got = len(rest)
    while got < length:
        d = s.recv(1 << 20)
        if not d: break
        got += len(d)
    t = time.perf_counter() - t0; s.close()
    if status != 200 or got != length: raise SystemExit(f"{model}: HTTP {status}, {got} of {length} bytes")
    return t, length

for w in workloads:
    f = lambda *shape: rng.standard_normal(shape, dtype=np.float32)
    if w == 'W2': req = body('freqfusion', {'hr_feat': f(1, 256, 64, 64), 'lr_feat': f(1, 256, 32, 32)}, ['mask', 'hr_feat', 'lr_feat'])
    elif w == 'W3': req = body('freqfusion', {'hr_feat': f(1, 256, 128, 128), 'lr_feat': f(1, 256, 64, 64)}, ['mask', 'hr_feat', 'lr_feat'])
    elif w == 'FPN4': req = body('freqfusion-fpn', {f'x{i + 1}': f(1, 256, 128 >> i, 128 >> i) for i in range(4)}, [f'y{i}' for i in range(1, 5)])
    else: raise SystemExit(f"unknown workload {w} (W2, W3, FPN4)")
    for _ in range(warm): request(*req)
    times = []
    for _ in range(n):
        t, out_bytes = request(*req); times.append(t * 1e3)
    times.sort()
    print(json.dumps({"workload": w, "requests": n, "median_ms": times[len(times) // 2], "p90_ms": times[int(0.9 * (len(times) - 1))],
                      "max_ms": times[-1], "bytes_in": len(req[2]), "bytes_out": out_bytes}), flush=True)
PY
kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true
trap - EXIT

: > "$OUT/forward.jsonl"
for w in ${WORKLOADS//,/ }; do
  ./freqfusion bench --workload "$w" --threads 2 | tail -1 >> "$OUT/forward.jsonl"
done

"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
rest = {r["workload"]: r for r in map(json.loads, open(f"{out}/rest.jsonl"))}
fwd = {r["workload"]: r for r in map(json.loads, open(f"{out}/forward.jsonl"))}
print(f"{'workload':8s} {'MB in':>6s} {'MB out':>6s} {'REST median':>11s} {'p90':>7s} {'max':>7s} {'forward':>8s} {'REST/forward':>12s}")
for w, r in rest.items():
    f = fwd[w]["median_ms"]
    print(f"{w:8s} {r['bytes_in'] / 1e6:6.1f} {r['bytes_out'] / 1e6:6.1f} {r['median_ms']:9.1f} ms {r['p90_ms']:7.1f} {r['max_ms']:7.1f} "
          f"{f:6.1f} ms {r['median_ms'] / f:12.2f}")
print(f"(raw: {out}/)")
PY
