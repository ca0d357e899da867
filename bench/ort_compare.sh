#!/usr/bin/env bash
# ort_compare.sh -- Ocellus against ONNX Runtime on the same ONNX files, side by side.
#
#   bench/ort_compare.sh [options] MODEL.onnx...
#     --threads N   intra-op threads for both (default 2)
#     --runs N      timed runs per round (default 5); --rounds R interleaved rounds (default 3)
#     --load K      also time every model while K busy-loop processes run (default 0: no)
#     --ocellus-only  skip ONNX Runtime (just the Ocellus column)
#
# Each ONNX file is converted once with `ocellus convert` (cached beside the ONNX Runtime
# install; --arch/--scale taken from the file name, e.g. yolo11m-bncal.onnx -> yolo11 m).
# ONNX Runtime comes from npm's onnxruntime-node, installed on first use into
# $OCELLUS_ORT_DIR (default ~/.cache/ocellus-ort, outside the repository), and is timed by
# ../shared/tools/ort_time.js ($OCELLUS_ORT_TIME_JS). Without node/npm or that script the ONNX
# Runtime column is skipped with a message. Both sides see the same seeded input and run
# inference only; rounds alternate between the two; the figure is the median of the rounds'
# medians. Run it under the CPU lock on a shared machine: flock /tmp/ocellus-cpu.lock ...
set -u
cd "$(dirname "$0")/.." || exit 1
THREADS=2 RUNS=5 ROUNDS=3 LOAD=0 ORT=1
MODELS=()
while [ $# -gt 0 ]; do
    case "$1" in
    --threads) THREADS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --load) LOAD=$2; shift 2 ;;
    --ocellus-only) ORT=0; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) MODELS+=("$1"); shift ;;
    esac
done
if [ ${#MODELS[@]} -eq 0 ]; then
    echo "usage: $0 [--threads N] [--runs N] [--rounds R] [--load K] MODEL.onnx..." >&2
    exit 2
fi
CACHE=${OCELLUS_ORT_DIR:-$HOME/.cache/ocellus-ort}
JS=${OCELLUS_ORT_TIME_JS:-../shared/tools/ort_time.js}
BUILD=${BUILD:-build}
mkdir -p "$CACHE/models" || exit 1

# ---- Ocellus timer (links the static library the tree just built) ----
TIMER="$BUILD/ort_compare_time"
make --no-print-directory -s BUILD="$BUILD" lib cli "$TIMER" >/dev/null || { echo "build failed" >&2; exit 1; }

# ---- ONNX Runtime (optional) ----
if [ "$ORT" = 1 ]; then
    if ! command -v node >/dev/null; then
        echo "SKIP ONNX Runtime: node not found"; ORT=0
    elif [ ! -f "$JS" ]; then
        echo "SKIP ONNX Runtime: $JS not found (set OCELLUS_ORT_TIME_JS)"; ORT=0
    elif [ ! -d "$CACHE/node_modules/onnxruntime-node" ]; then
        if command -v npm >/dev/null; then
            echo "installing onnxruntime-node into $CACHE ..."
            (cd "$CACHE" && ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install onnxruntime-node \
                >"$CACHE/npm-install.log" 2>&1) || true
        fi
        if [ ! -d "$CACHE/node_modules/onnxruntime-node" ]; then
            echo "SKIP ONNX Runtime: cannot install onnxruntime-node (see $CACHE/npm-install.log)"
            ORT=0
        fi
    fi
fi

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }

ocellus_model() { # ONNX -> cached Ocellus file
    local onnx=$1 base out arch scale
    base=$(basename "$onnx" .onnx)
    out="$CACHE/models/$base.safetensors"
    if [ ! -f "$out" ] || [ "$onnx" -nt "$out" ]; then
        arch=$(echo "$base" | sed -n 's/^\(yolo11\|yolo12\|yolov8\)\([nslmx]\).*/\1/p')
        scale=$(echo "$base" | sed -n 's/^\(yolo11\|yolo12\|yolov8\)\([nslmx]\).*/\2/p')
        local extra=()
        [ -n "$arch" ] && extra=(--arch "$arch" --scale "$scale")
        "$BUILD/ocellus" convert --input "$onnx" -o "$out" "${extra[@]}" >/dev/null || return 1
    fi
    echo "$out"
}

busy_pids=()
start_load() {
    for _ in $(seq "$1"); do (while :; do :; done) & busy_pids+=($!); done
    sleep 0.5
}
stop_load() {
    for p in "${busy_pids[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${busy_pids[@]}"; do wait "$p" 2>/dev/null; done
    busy_pids=()
}
trap stop_load EXIT

time_pair() { # model.onnx ocellus-file -> "ocellus_ms ort_ms"
    local onnx=$1 oc=$2 r a b oms=() rms=()
    for r in $(seq "$ROUNDS"); do
        a=$("$TIMER" "$oc" "$THREADS" "$RUNS" 2 | field median_ms)
        oms+=("${a:-nan}")
        if [ "$ORT" = 1 ]; then
            b=$(NODE_PATH="$CACHE/node_modules" node "$JS" "$onnx" "$THREADS" "$RUNS" 2 2>/dev/null |
                sed -n 's/.*"median_ms":\([0-9.]*\).*/\1/p')
            rms+=("${b:-nan}")
        fi
    done
    echo "$(printf '%s\n' "${oms[@]}" | median) $( [ "$ORT" = 1 ] && printf '%s\n' "${rms[@]}" | median || echo nan)"
}

echo "Ocellus vs ONNX Runtime: $THREADS threads, $ROUNDS rounds x $RUNS runs, commit $(git rev-parse --short HEAD 2>/dev/null)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$LOAD" -gt 0 ]; then
    printf "%-22s %10s %10s %7s %12s %12s %7s %9s %9s\n" variant "ocellus ms" "ort ms" ratio \
        "oc+load ms" "ort+load ms" ratio "oc slow" "ort slow"
else
    printf "%-22s %10s %10s %7s\n" variant "ocellus ms" "ort ms" ratio
fi
for onnx in "${MODELS[@]}"; do
    name=$(basename "$onnx" .onnx)
    oc=$(ocellus_model "$onnx") || { printf "%-22s convert failed\n" "$name"; continue; }
    read -r o r < <(time_pair "$onnx" "$oc")
    line=$(awk -v n="$name" -v o="$o" -v r="$r" 'BEGIN {printf "%-22s %10.1f %10s %7s", n, o, (r=="nan"?"-":sprintf("%.1f",r)), (r=="nan"?"-":sprintf("%.2f",o/r))}')
    if [ "$LOAD" -gt 0 ]; then
        start_load "$LOAD"
        read -r ol rl < <(time_pair "$onnx" "$oc")
        stop_load
        line=$line$(awk -v o="$o" -v r="$r" -v ol="$ol" -v rl="$rl" 'BEGIN {
            printf " %12.1f %12s %7s %8.2fx %9s", ol, (rl=="nan"?"-":sprintf("%.1f",rl)),
                (rl=="nan"?"-":sprintf("%.2f",ol/rl)), ol/o, (rl=="nan"?"-":sprintf("%.2fx",rl/r))}')
    fi
    echo "$line"
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ratio = Ocellus ms / ONNX Runtime ms (below 1: Ocellus faster); slow = loaded / quiet"
