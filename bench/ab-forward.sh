#!/usr/bin/env bash
# Whole-forward A/B of two checkouts in one JVM (bench/ab/AbForward.java): alternating blocks of forwards, the
# per-round ratio B/A printed. Both checkouts are built with their own launcher first (./freqfusion info).
#   bench/ab-forward.sh DIR_A DIR_B [WORKLOAD=W2] [CONFIG=default] [ROUNDS=9] [PER_ROUND=20] [THREADS=2]
set -euo pipefail
# shellcheck source=bench/ab/run-ab.sh
source "$(dirname "$0")/ab/run-ab.sh"
ab_need 2 "$0" $#
ab_run AbForward "$1" "$2" "${3:-W2}" "${4:-default}" "${5:-9}" "${6:-20}" "${7:-2}"
