#!/usr/bin/env bash
# Side by side: the project's own PyTorch FreqFusion (bench/torch/freqfusion_torch.py) vs our CPU backend
# (./freqfusion bench), in ONE run, workload by workload, and the ratio ours/torch against the issue-5 target
# (ours <= 0.25 x torch at W2, W3 and FPN4). Not part of CI. See bench/README.md.
#
#   bench/compare-torch.sh                                  # all workloads, configs default and paper, 2 threads
#   bench/compare-torch.sh --workloads W2,W3 --configs paper
#   WORKLOADS=W1 CONFIGS=default bench/compare-torch.sh     # same through the environment
#
# Options (environment variable in brackets):
#   --workloads LIST   [WORKLOADS]  comma list of W1,W2,W3,FPN4         (default all four)
#   --configs LIST     [CONFIGS]    comma list of default,paper         (default both)
#   --threads N        [THREADS]    threads for both sides              (default 2)
#   --warmup N         [WARMUP]     warm-up runs, both sides            (default 30)
#   --runs N           [RUNS]       timed runs, both sides; medians     (default 50)
#   --forks N          [FORKS]      fresh processes per side and case; the table shows the median of their medians
#                                   (default 3: one JVM's JIT decisions can leave it 30 % slower or faster than the next)
#   --allocator A      [TORCH_ALLOCATOR]  malloc of the PyTorch process, the "tuned allocator" peer:
#                                   jemalloc      LD_PRELOAD Debian's libjemalloc2 with page purging off
#                                                 (MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:0),
#                                                 and 2 MB pages (thp:always,metadata_thp:always) where the kernel
#                                                 offers transparent huge pages, as our launcher gives its heap
#                                   glibc-tuned   glibc with big blocks kept in the heap (MALLOC_MMAP_THRESHOLD_,
#                                                 MALLOC_TRIM_THRESHOLD_, MALLOC_TOP_PAD_)
#                                   system        glibc as is (every big tensor is a fresh mmap: ~13k page faults
#                                                 per W3 forward, ~25 % of its CPU time)
#                                   default: jemalloc if libjemalloc2 is installed, else glibc-tuned
#   --carafe V         [FF_TORCH_CARAFE]  taps | unfold | einsum: CARAFE variant of the torch side (default taps)
#   --max-load X       [MAX_LOAD]   1-minute load average the machine must be under BEFORE the run (default 0.5);
#                                   the script waits up to --wait-idle seconds for it
#   --wait-idle S      [WAIT_IDLE]  seconds to wait for that (default 300)
#   --max-foreign F    [MAX_FOREIGN] share of the machine's CPU time during the timings that may go to anything other
#                                   than the two benchmarks, hypervisor steal included (default 0.05)
#   --ours DIR         [OURS_DIR]   checkout whose ./freqfusion is measured (default this repository; e.g. a clean
#                                   `git worktree add /tmp/ff-meas HEAD` so that no concurrent build touches it)
#
# Needs: Debian's python3-torch and python3-numpy for /usr/bin/python3 (NOT the pyenv python on PATH; PyPI is
# not used):  apt-get update && apt-get install -y python3-torch python3-numpy libjemalloc2
# This script installs nothing. Raw results go to bench/results/compare-<UTC time>.{jsonl,txt}.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"

WORKLOADS="${WORKLOADS:-W1,W2,W3,FPN4}"
CONFIGS="${CONFIGS:-default,paper}"
THREADS="${THREADS:-2}"
WARMUP="${WARMUP:-30}"
RUNS="${RUNS:-50}"
FORKS="${FORKS:-3}"
TORCH_ALLOCATOR="${TORCH_ALLOCATOR:-}"
FF_TORCH_CARAFE="${FF_TORCH_CARAFE:-taps}"
MAX_LOAD="${MAX_LOAD:-0.5}"
WAIT_IDLE="${WAIT_IDLE:-300}"
MAX_FOREIGN="${MAX_FOREIGN:-0.05}"
OURS_DIR="${OURS_DIR:-$ROOT}"
GOLDEN="${FREQFUSION_GOLDEN:-$ROOT/../shared/golden}"
PY=/usr/bin/python3
JEMALLOC=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --configs) CONFIGS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --warmup) WARMUP="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --forks) FORKS="$2"; shift 2 ;;
    --allocator) TORCH_ALLOCATOR="$2"; shift 2 ;;
    --carafe) FF_TORCH_CARAFE="$2"; shift 2 ;;
    --max-load) MAX_LOAD="$2"; shift 2 ;;
    --wait-idle) WAIT_IDLE="$2"; shift 2 ;;
    --max-foreign) MAX_FOREIGN="$2"; shift 2 ;;
    --ours) OURS_DIR="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "compare-torch: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

# ---- prerequisites (checked, never installed here)
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  cat >&2 <<EOF
compare-torch: $PY cannot import torch and numpy.
Install Debian's PyTorch (1.13) and NumPy for the system python (PyPI is not used):
    apt-get update && apt-get install -y python3-torch python3-numpy libjemalloc2
EOF
  exit 2
fi
[ -x "$OURS_DIR/freqfusion" ] || { echo "compare-torch: no ./freqfusion launcher in $OURS_DIR" >&2; exit 2; }
[ -d "$GOLDEN" ] || { echo "compare-torch: golden files not found at $GOLDEN (set FREQFUSION_GOLDEN)" >&2; exit 2; }
if [ -z "$TORCH_ALLOCATOR" ]; then
  if [ -f "$JEMALLOC" ]; then TORCH_ALLOCATOR=jemalloc; else TORCH_ALLOCATOR=glibc-tuned; fi
fi
TORCH_ENV=()   # environment of the PyTorch process only
case "$TORCH_ALLOCATOR" in
  jemalloc) [ -f "$JEMALLOC" ] || { echo "compare-torch: $JEMALLOC missing (apt-get install -y libjemalloc2)" >&2; exit 2; }
            JE_CONF="dirty_decay_ms:-1,muzzy_decay_ms:-1,oversize_threshold:0"
            grep -qE '\[(always|madvise)\]' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null && JE_CONF+=",thp:always,metadata_thp:always"
            TORCH_ENV=(LD_PRELOAD="$JEMALLOC" MALLOC_CONF="$JE_CONF") ;;
  glibc-tuned) TORCH_ENV=(MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=68719476736 MALLOC_TOP_PAD_=536870912) ;;
  system) TORCH_ENV=(FF_TORCH_ALLOCATOR=system) ;;
  *) echo "compare-torch: --allocator must be jemalloc, glibc-tuned or system" >&2; exit 2 ;;
esac

mkdir -p "$BENCH/results"
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
JSONL="$BENCH/results/compare-$STAMP.jsonl"
TXT="$BENCH/results/compare-$STAMP.txt"
: > "$JSONL"

log() { echo "$*" | tee -a "$TXT" >&2; }

# ---- 0. an idle machine: the 1-minute load average is taken BEFORE this script adds its own load (measured at the
# end it would count the benchmark's own two threads); during the timings, step 3 measures foreign CPU instead.
load1() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while awk -v l="$(load1)" -v m="$MAX_LOAD" 'BEGIN { exit !(l > m) }' && [ "$waited" -lt "$WAIT_IDLE" ]; do
  [ "$waited" -eq 0 ] && log "== load $(load1) > $MAX_LOAD: waiting up to ${WAIT_IDLE}s for the machine to settle"
  sleep 10; waited=$((waited + 10))
done
LOAD_BEFORE="$(load1)"

# ---- 1. the torch implementation must reproduce every golden file before its timings count
log "== golden check of bench/torch/freqfusion_torch.py against $GOLDEN"
if ! "$PY" "$BENCH/torch/freqfusion_torch.py" --check "$GOLDEN" --carafe "$FF_TORCH_CARAFE" | tee -a "$TXT" | tail -1 >&2; then
  log "compare-torch: the torch implementation fails the golden check; its timings would not count"
  exit 1
fi

# ---- 2. build ours once, outside the timings
log "== building $OURS_DIR/freqfusion (if needed)"
(cd "$OURS_DIR" && ./freqfusion info >/dev/null)

log "== $(date -u) | $(nproc) CPUs | load before the run $LOAD_BEFORE | threads $THREADS | warmup $WARMUP | runs $RUNS"
log "== torch: $("$PY" -c 'import torch; print(torch.__version__)') CARAFE=$FF_TORCH_CARAFE allocator=$TORCH_ALLOCATOR | ours: $OURS_DIR @ $(cd "$OURS_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$( [ -n "$(cd "$OURS_DIR" && git status --porcelain --untracked-files=no src pom.xml 2>/dev/null)" ] && echo '+dirty')"

# ---- 3. per workload and config: torch, then ours, back to back
# CPU accounting over the timings, in clock ticks: the machine's busy and steal time (/proc/stat) against the CPU time
# of this script's children (the two benchmarks; bash's `times`). busy - ours = anything else that ran.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $9 }' /proc/stat; }   # busy (user nice system irq softirq), steal
# `times` must run in this shell (a $(...) subshell starts with zero child time): into a file, then parsed.
TIMES_FILE="$(mktemp)"
child_ticks() {
  times > "$TIMES_FILE"
  CHILD_TICKS="$(tail -1 "$TIMES_FILE" | awk -v hz="$(getconf CLK_TCK)" '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); t += a[1] * 60 + a[2] } printf "%d", t * hz }')"
}
# Where the two vCPUs sit, per fork (bench/tools/vcpu-pingpong.c; needs a C compiler, skipped without one): ~30-40 ns
# one way while they share a CCD, ~160-175 ns while the hypervisor runs them on different CCDs, which slows kernels
# that read rows the other core wrote (bench/PERFORMANCE.md, "The two vCPUs on different CCDs").
PINGPONG=""
if command -v cc > /dev/null 2>&1; then
  PINGPONG_DIR="$(mktemp -d)"
  cc -O2 -pthread -o "$PINGPONG_DIR/vcpu-pingpong" "$BENCH/tools/vcpu-pingpong.c" 2> /dev/null && PINGPONG="$PINGPONG_DIR/vcpu-pingpong"
fi
vcpu_distance() { [ -n "$PINGPONG" ] && log "   $1: cache line between the vCPUs $("$PINGPONG" 3) ns one way" || true; }
read -r BUSY0 STEAL0 <<< "$(cpu_ticks)"
child_ticks; CHILD0="$CHILD_TICKS"
WALL0="$(date +%s.%N)"
IFS=',' read -r -a WL <<< "$WORKLOADS"
IFS=',' read -r -a CF <<< "$CONFIGS"
for w in "${WL[@]}"; do
  for c in "${CF[@]}"; do
    for fork in $(seq 1 "$FORKS"); do
      vcpu_distance "$w $c fork $fork"
      log "-- $w $c: torch (fork $fork/$FORKS)"
      env "${TORCH_ENV[@]}" "$PY" "$BENCH/torch/freqfusion_torch.py" --bench --quiet --carafe "$FF_TORCH_CARAFE" \
          --workloads "$w" --configs "$c" --threads "$THREADS" --warmup "$WARMUP" --runs "$RUNS" | tail -1 >> "$JSONL"
      log "-- $w $c: ours (fork $fork/$FORKS)"
      out="$(cd "$OURS_DIR" && ./freqfusion bench --workload "$w" --config "$c" --threads "$THREADS" --warmup "$WARMUP" --runs "$RUNS")"
      echo "$out" | grep -E '^(outputs|stages):' | sed "s/^/   $w $c /" | tee -a "$TXT" >&2 || true
      echo "$out" | tail -1 | sed 's/^{/{"impl":"ours",/' >> "$JSONL"
    done
  done
done
read -r BUSY1 STEAL1 <<< "$(cpu_ticks)"
child_ticks; CHILD1="$CHILD_TICKS"; rm -f "$TIMES_FILE"
if [ -n "${PINGPONG_DIR:-}" ]; then rm -rf "$PINGPONG_DIR"; fi
WALL1="$(date +%s.%N)"
HZ="$(getconf CLK_TCK)"
FOREIGN="$(awk -v b="$((BUSY1 - BUSY0))" -v s="$((STEAL1 - STEAL0))" -v c="$((CHILD1 - CHILD0))" -v hz="$HZ" \
    -v w0="$WALL0" -v w1="$WALL1" -v n="$(nproc)" 'BEGIN { cap = (w1 - w0) * hz * n; f = b - c; if (f < 0) f = 0;
    printf "%.4f %.4f %.4f", f / cap, s / cap, c / cap }')"
read -r FOREIGN_SHARE STEAL_SHARE OURS_SHARE <<< "$FOREIGN"
log "== CPU during the timings: benchmarks $OURS_SHARE, other processes $FOREIGN_SHARE, hypervisor steal $STEAL_SHARE of $(nproc) CPUs"

# ---- 4. table and verdict
"$PY" - "$JSONL" "$LOAD_BEFORE" "$MAX_LOAD" "$FOREIGN_SHARE" "$STEAL_SHARE" "$MAX_FOREIGN" <<'EOF' | tee -a "$TXT"
import json, sys
path, load0, max_load = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
foreign, steal, max_foreign = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
rows = [json.loads(l) for l in open(path) if l.strip()]

def by_case(impl):
    """Per (workload, config): the fork whose median is the median of the forks' medians, and all the medians."""
    groups = {}
    for r in rows:
        if r.get("impl") == impl:
            groups.setdefault((r["workload"], r["config"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        rs = sorted(rs, key=lambda r: r["median_ms"])
        out[key] = dict(rs[(len(rs) - 1) // 2], forks=[r["median_ms"] for r in rs])
    return out

torch, ours = by_case("torch"), by_case("ours")
ceo = {"W1": 6.5, "W2": 15.0, "W3": 56.9, "FPN4": 74.7}   # issue 5: the CEO's PyTorch peer, default config
TARGET, GATED = 0.25, ("W2", "W3", "FPN4")
print()
print(f"{'workload':8s} {'config':8s} {'torch ms':>9s} {'ours ms':>9s} {'ours/torch':>10s} {'speed-up':>8s} "
      f"{'ours GFLOP/s':>12s} {'alloc B/op':>10s} {'CEO torch':>9s}  target   (forks: torch ms | ours ms)")
fails, counted = [], 0
for key in torch:
    if key not in ours:
        continue
    t, o = torch[key]["median_ms"], ours[key]["median_ms"]
    ratio = o / t
    gated = key[0] in GATED
    ok = ratio <= TARGET
    counted += gated
    if gated and not ok:
        fails.append(f"{key[0]}/{key[1]} {ratio:.3f}")
    ref = f"{ceo[key[0]]:9.1f}" if key[1] == "default" else f"{'':9s}"
    print(f"{key[0]:8s} {key[1]:8s} {t:9.2f} {o:9.2f} {ratio:10.3f} {t / o:7.2f}x {ours[key].get('gflops', 0):12.1f} "
          f"{ours[key].get('alloc_bytes_per_op', -1):10d} {ref}  {'<= 0.25 ' + ('ok' if ok else 'MISSED') if gated else '(info)':15s}"
          f"  {' '.join(f'{m:.2f}' for m in torch[key]['forks'])} | {' '.join(f'{m:.2f}' for m in ours[key]['forks'])}")
idle = load0 <= max_load and foreign + steal <= max_foreign
print()
if not idle:
    print(f"NOTE: load average {load0:.2f} before the run (limit {max_load}); during the timings other processes took "
          f"{foreign:.1%} and hypervisor steal {steal:.1%} of the CPUs (limit {max_foreign:.0%} together): the machine "
          f"was NOT idle; this run does not count for acceptance")
else:
    print(f"idle: load {load0:.2f} before the run; other processes {foreign:.1%}, steal {steal:.1%} of the CPUs during it")
if counted == 0:
    print("VERDICT: n/a (no gated workload W2, W3 or FPN4 in this run)")
elif fails:
    print(f"VERDICT: FAIL - ours/torch > {TARGET} at " + ", ".join(fails) + ("" if idle else " [machine not idle]"))
else:
    print(f"VERDICT: PASS - ours/torch <= {TARGET} at every gated workload run" + ("" if idle else " [machine not idle: not valid]"))
EOF
echo "results: $JSONL, $TXT" >&2
