#!/usr/bin/env bash
# One CPU kernel of two checkouts in one JVM (bench/ab/AbKernel.java): their outputs compared bit for bit, then
# alternating blocks of calls, the per-round ratio B/A printed. KERNEL: carafe-lr, carafe-hr, normalise, compress, encode.
#   bench/ab-kernel.sh DIR_A DIR_B KERNEL [WORKLOAD=W2|W3] [ROUNDS=21] [PER_ROUND=20] [THREADS=2]
set -euo pipefail
# shellcheck source=bench/ab/run-ab.sh
source "$(dirname "$0")/ab/run-ab.sh"
ab_need 3 "$0" $#
ab_run AbKernel "$1" "$2" "$3" "${4:-W2}" "${5:-21}" "${6:-20}" "${7:-2}"
