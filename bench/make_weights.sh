#!/usr/bin/env bash
# Generate every missing default model file weights/<arch><scale>.safetensors listed in
# bench/variants.txt, with synthetic weights from `$BUILD/ocellus gen` (BUILD default "build").
# Existing files (synthetic or real converted ones) are left alone. An arch that `ocellus gen`
# does not support yet is skipped with a message; any other failure is reported and recorded
# in bench/results/.gen-failed/<name> so that ocellus-bench counts it as an error.
set -u
BUILD=${BUILD:-build}
LIST=${OCELLUS_BENCH_VARIANTS_FILE:-bench/variants.txt}
WEIGHTS=${OCELLUS_BENCH_WEIGHTS:-weights}
FAILDIR=${OCELLUS_BENCH_OUT:-bench/results}/.gen-failed
OCELLUS="$BUILD/ocellus"

if [ ! -x "$OCELLUS" ]; then
  echo "make_weights: $OCELLUS not found: build it first (make BUILD=$BUILD cli)" >&2
  exit 1
fi
if [ ! -r "$LIST" ]; then
  echo "make_weights: variant list $LIST not found" >&2
  exit 1
fi
mkdir -p "$WEIGHTS"
made=0; have=0; skipped=0; failed=0
while read -r arch scale rest; do
  case "$arch" in ''|'#'*) continue ;; esac
  [ -n "${scale:-}" ] || continue
  name="$arch$scale"
  out="$WEIGHTS/$name.safetensors"
  if [ -s "$out" ]; then
    have=$((have + 1))
    rm -f "$FAILDIR/$name"
    continue
  fi
  tmp="$WEIGHTS/.$name.tmp.$$.safetensors"
  echo "make_weights: generating $out (synthetic weights: ocellus gen --arch $arch --scale $scale)" >&2
  t0=$(date +%s.%N)
  if errmsg=$("$OCELLUS" gen --arch "$arch" --scale "$scale" -o "$tmp" 2>&1 >/dev/null); then
    mv -f "$tmp" "$out"
    rm -f "$FAILDIR/$name"
    made=$((made + 1))
    printf 'make_weights: %s done in %.1f s (%s bytes)\n' "$out" \
      "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{print b-a}')" "$(stat -c %s "$out")" >&2
  else
    rm -f "$tmp"
    first=$(printf '%s\n' "$errmsg" | head -n 3 | tr '\n' ' ')
    if printf '%s' "$errmsg" | grep -qiE "unsupported|not supported|unknown arch|not built|unknown architecture"; then
      echo "make_weights: skipping $name: ocellus gen does not support arch '$arch' yet ($first)" >&2
      skipped=$((skipped + 1))
    else
      echo "make_weights: ERROR generating $name: $first" >&2
      mkdir -p "$FAILDIR"
      printf 'ocellus gen --arch %s --scale %s failed: %s\n' "$arch" "$scale" "$first" > "$FAILDIR/$name"
      failed=$((failed + 1))
    fi
  fi
done < "$LIST"
echo "make_weights: $made generated, $have already present, $skipped skipped (arch not supported by gen), $failed failed" >&2
exit 0
