#!/usr/bin/env bash
# Run cmocka test binaries, print each one's output, then one closing line:
#   N passed, N failed, N skipped
# A binary that dies without its summary (crash, sanitizer, valgrind error) counts as a failure.
# --valgrind runs each under memcheck (errors and definite leaks fail).
set -u
vg=()
if [ "${1:-}" = "--valgrind" ]; then
  shift
  vg=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
      --show-leak-kinds=definite)
fi
pass=0; fail=0; skip=0; bad_bins=()
for bin in "$@"; do
  name=$(basename "$bin")
  out=$(mktemp)
  echo "=== $name" >&2
  "${vg[@]}" "$bin" 2>&1 | tee "$out"
  rc=${PIPESTATUS[0]}
  run=$(grep -c '^\[ RUN      \]' "$out")
  ok=$(grep -c '^\[       OK \]' "$out")
  sk=$(grep -E -c '^\[  SKIPPED \] [A-Za-z_]' "$out")
  # the listing after the summary repeats skipped names: count each once
  sk=$(grep -E '^\[  SKIPPED \] [A-Za-z_]' "$out" | sort -u | wc -l)
  f=$((run - ok - sk))
  [ $f -lt 0 ] && f=0
  if [ "$rc" -ne 0 ] && [ $f -eq 0 ]; then f=1; fi
  pass=$((pass + ok)); fail=$((fail + f)); skip=$((skip + sk))
  [ $f -gt 0 ] && bad_bins+=("$name (exit $rc)")
  rm -f "$out"
done
echo
if [ ${#bad_bins[@]} -gt 0 ]; then echo "failing: ${bad_bins[*]}"; fi
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
