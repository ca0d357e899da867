#!/usr/bin/env bash
# Build every tests/fuzz/fuzz_*.c as a libFuzzer target (clang, ASan + UBSan) and run each for
# $1 seconds (default 30) on a corpus in build/fuzz/corpus-<name>, seeded from
# tests/fuzz/seeds/<name>. Exits non-zero when a target crashes (the crash input's path is
# printed; turn it into a unit test) or does not build.
#   tests/fuzz/run.sh [SECONDS] [NAME...]      e.g. tests/fuzz/run.sh 60 model
# A target may set its input size limit with a line "// FUZZ_MAX_LEN: 65536" (default 65536)
# and have a libFuzzer dictionary in tests/fuzz/<name>.dict.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-30}
shift || true
only=("$@")
CC=${FUZZ_CC:-clang}
OUT=build/fuzz
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=c11 -O1 -g -D_GNU_SOURCE -Iinclude -Isrc -Iops $SAN"
LIBS="-lopenblas -lpng -ljpeg -lcjson -lzip -lm -lpthread"
mkdir -p "$OUT/obj"

if ! command -v "$CC" >/dev/null; then
  echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 1
fi

# ---- the library, compiled for fuzzing (rebuilt when a source or any header is newer) ----
newest_hdr=$(ls -t include/*.h src/*.h src/*/*.h src/*/*/*.h ops/*.h 2>/dev/null | head -1)
objs=()
todo=()
for src in $(ls src/*.c src/*/*.c src/*/*/*.c ops/*.c 2>/dev/null | sort); do
  obj="$OUT/obj/${src%.c}.o"
  objs+=("$obj")
  if [ ! -f "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_hdr" -nt "$obj" ]; then
    todo+=("$src")
  fi
done
compile_one() {
  src=$1; obj="$OUT/obj/${src%.c}.o"; mkdir -p "$(dirname "$obj")"
  isa=""
  case "$src" in
    *_avx2.c) isa="-mavx2 -mfma -mf16c" ;;
    *_avx512.c) isa="-mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma -mf16c" ;;
  esac
  # shellcheck disable=SC2086
  if ! $CC $CFLAGS -fsanitize=fuzzer-no-link $isa -c "$src" -o "$obj" 2>"$obj.log"; then
    echo "fuzz: $src does not compile with $CC:" >&2; cat "$obj.log" >&2; rm -f "$obj"; return 1
  fi
}
export -f compile_one
export CC CFLAGS OUT
if [ ${#todo[@]} -gt 0 ]; then
  echo "fuzz: compiling ${#todo[@]} library sources with $CC + sanitizers" >&2
  printf '%s\n' "${todo[@]}" | xargs -P 2 -I{} bash -c 'compile_one {}' || true
fi
present=()
for o in "${objs[@]}"; do [ -f "$o" ] && present+=("$o"); done
rm -f "$OUT/libocellus-fuzz.a"
ar rcs "$OUT/libocellus-fuzz.a" "${present[@]}"

# ---- targets ----
status=0
crashes=()
for t in tests/fuzz/fuzz_*.c; do
  [ -e "$t" ] || continue
  name=$(basename "$t" .c); name=${name#fuzz_}
  if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " =~ " $name " ]]; then continue; fi
  bin="$OUT/fuzz_$name"
  # shellcheck disable=SC2086
  if ! $CC $CFLAGS -fsanitize=fuzzer -o "$bin" "$t" "$OUT/libocellus-fuzz.a" $LIBS; then
    echo "fuzz: target $name does not build" >&2
    status=1; continue
  fi
  maxlen=$(sed -n 's|.*FUZZ_MAX_LEN: *\([0-9][0-9]*\).*|\1|p' "$t" | head -1)
  maxlen=${maxlen:-65536}
  corpus="$OUT/corpus-$name"; art="$OUT/artifacts-$name/"
  mkdir -p "$corpus" "$art"
  dict=()
  [ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
  seeds=()
  [ -d "tests/fuzz/seeds/$name" ] && seeds=("tests/fuzz/seeds/$name")
  echo "fuzz: $name for ${secs}s (max_len $maxlen, corpus $corpus)" >&2
  log="$OUT/fuzz_$name.log"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$bin" -max_len="$maxlen" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art" "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  grep -a -E '^stat::number_of_executed_runs|^#[0-9]+.*DONE' "$log" | tail -2 >&2
  if [ $rc -ne 0 ]; then
    status=1
    found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -a -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -5 >&2
    echo "fuzz: $name FAILED (exit $rc); crash input: ${found:-see $log}; log: $log" >&2
    crashes+=("$name: ${found:-$log}")
  else
    echo "fuzz: $name ok, corpus $(ls "$corpus" | wc -l) files" >&2
  fi
done
if [ ${#crashes[@]} -gt 0 ]; then
  printf 'fuzz: crash: %s\n' "${crashes[@]}" >&2
fi
exit $status
