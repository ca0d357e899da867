#!/usr/bin/env bash
# Install the Debian packages Ocellus needs when any is missing. As root: apt-get; otherwise
# print the exact command and stop. Each package and why: see README.md "Dependencies".
set -euo pipefail
PKGS=(build-essential pkg-config libopenblas-dev libpng-dev libjpeg-dev libcmocka-dev
      libcjson-dev libzip-dev valgrind clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "Ocellus needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
$cmd -qq >&2
