#!/usr/bin/env bash
# make bench-callgrind MODEL=yolo11n -- instructions per inference under callgrind: a
# noise-free figure (single thread, AVX2 path and OpenBLAS Haswell kernels, which valgrind
# can run) that can be baselined like the timings.
#
#   bash bench/callgrind.sh [MODEL] [--save-baseline]
# MODEL is a variant name (weights/<name>.safetensors) or a file path; default yolo11n.
# Environment: BUILD (default build), OCELLUS_BENCH_CALLGRIND_N (timed inferences, default 1),
# OCELLUS_BENCH_CALLGRIND_THRESHOLD (relative change that counts, default 0.02).
# Only the timed inferences are instrumented (after one warm-up that also plans the graph).
# The baseline is bench/baselines/callgrind-<name>.txt; without one, the figure is just printed.
# Exit status: 0 ok, 1 a regression beyond the threshold or a failed run, 2 usage.
set -u
BUILD=${BUILD:-build}
N=${OCELLUS_BENCH_CALLGRIND_N:-1}
THRESH=${OCELLUS_BENCH_CALLGRIND_THRESHOLD:-0.02}
MODEL=yolo11n
SAVE=0
for a in "$@"; do
  case "$a" in
    --save-baseline) SAVE=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    '') ;;
    *) MODEL=$a ;;
  esac
done
[ "${OCELLUS_BENCH_CALLGRIND_SAVE:-0}" = 1 ] && SAVE=1
if [ -f "$MODEL" ]; then
  path=$MODEL; name=$(basename "$MODEL" .safetensors)
else
  name=$MODEL; path=weights/$MODEL.safetensors
fi
if [ ! -f "$path" ]; then
  echo "bench-callgrind: no model file $path (make weights, or MODEL=<variant or file>)" >&2
  exit 2
fi
BIN=$BUILD/ocellus-bench
if [ ! -x "$BIN" ]; then echo "bench-callgrind: $BIN not built" >&2; exit 2; fi
if ! command -v valgrind >/dev/null; then echo "bench-callgrind: valgrind not installed" >&2; exit 2; fi
ts=$(date -u +%Y%m%d-%H%M%S)
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || commit="$commit+uncommitted"
out=bench/results/$ts-callgrind
mkdir -p "$out"
img=$out/test_640x480_medium.jpg
"$BIN" --child-write-image "$img" || exit 1
echo "bench-callgrind: $name, $N inference(s) under callgrind (single thread, AVX2, OpenBLAS Haswell); this takes a while" >&2
t0=$(date +%s)
OCELLUS_ISA=avx2 OPENBLAS_CORETYPE=Haswell OCELLUS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
OPENBLAS_NUM_THREADS=1 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$out/callgrind.out.%p" "$BIN" --callgrind-run "$path" "$img" "$N" \
  > "$out/run.txt" 2> "$out/valgrind.txt"
rc=$?
t1=$(date +%s)
if [ $rc -ne 0 ]; then
  echo "bench-callgrind: the run failed (exit $rc); see $out/valgrind.txt:" >&2
  tail -n 5 "$out/valgrind.txt" >&2
  exit 1
fi
# the dump taken at the end of the timed inferences: callgrind.out.<pid>.1
dump=$(ls "$out"/callgrind.out.*.1 2>/dev/null | head -n 1)
if [ -z "$dump" ]; then echo "bench-callgrind: no dump file in $out" >&2; exit 1; fi
total=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
if [ -z "$total" ]; then echo "bench-callgrind: no instruction total in $dump" >&2; exit 1; fi
per=$(awk -v t="$total" -v n="$N" 'BEGIN{printf "%.0f", t / n}')
info=$(cat "$out/run.txt")
printf 'model=%s instructions_per_inference=%s %s commit=%s date=%s valgrind=%s\n' \
  "$name" "$per" "$info" "$commit" "$ts" "$(valgrind --version)" > "$out/callgrind.txt"
echo "bench-callgrind: $name: $(printf "%'d" "$per" 2>/dev/null || echo "$per") instructions per inference ($info), $((t1 - t0)) s under valgrind; details in $out (callgrind_annotate $dump)"
base=bench/baselines/callgrind-$name.txt
status=0
if [ -f "$base" ]; then
  bper=$(sed -n 's/.*instructions_per_inference=\([0-9]*\).*/\1/p' "$base" | head -n 1)
  if [ -n "$bper" ] && [ "$bper" -gt 0 ]; then
    verdict=$(awk -v c="$per" -v b="$bper" -v t="$THRESH" 'BEGIN{
      r = (c - b) / b;
      lvl = r > 0.50 ? "critical" : r >= 0.25 ? "major" : r >= 0.10 ? "minor" : "below the minor level";
      if (r > t) printf "REGRESSION %+.2f%% (%s; threshold %.1f%%)", 100*r, lvl, 100*t;
      else if (r < -t) printf "improved %+.2f%%", 100*r;
      else printf "unchanged within %.1f%% (%+.3f%%)", 100*t, 100*r }')
    echo "bench-callgrind: baseline $base: $bper per inference -> $verdict"
    case "$verdict" in REGRESSION*) status=1 ;; esac
  fi
else
  echo "bench-callgrind: no baseline at $base (bash bench/callgrind.sh $name --save-baseline saves one)"
fi
if [ $SAVE = 1 ]; then
  mkdir -p bench/baselines
  cp "$out/callgrind.txt" "$base"
  echo "bench-callgrind: saved the baseline $base"
fi
exit $status
