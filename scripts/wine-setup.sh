#!/usr/bin/env bash
# Prepares a wine prefix for the Windows build's tests (issue 13), idempotently:
#   - creates the prefix (WINEPREFIX, default target/wine/prefix) with `wineboot -i`;
#   - builds ci/wine/bcryptprimitives.c (ProcessPrng, which wine 8.0 lacks and
#     current Rust binaries need) with mingw and installs it into system32.
# Prints the prefix path on stdout. Use it with WINEDEBUG=-all.
# Needs: wine wine64 gcc-mingw-w64-x86-64 (see .ci/run).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export WINEPREFIX="${WINEPREFIX:-$root/target/wine/prefix}"
export WINEDEBUG=-all
for tool in wine wineboot x86_64-w64-mingw32-gcc; do
  command -v "$tool" >/dev/null || { echo "wine-setup: $tool is missing (apt-get install wine wine64 gcc-mingw-w64-x86-64)" >&2; exit 1; }
done
mkdir -p "$WINEPREFIX"
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  wineboot -i >/dev/null 2>&1
  wineserver -w
fi
sys32="$WINEPREFIX/drive_c/windows/system32"
[ -d "$sys32" ] || { echo "wine-setup: $sys32 missing after wineboot" >&2; exit 1; }
dll="$sys32/bcryptprimitives.dll"
src="$root/ci/wine/bcryptprimitives.c"
if [ ! -f "$dll" ] || [ "$src" -nt "$dll" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -Wall -Werror -o "$dll.tmp" "$src"
  mv "$dll.tmp" "$dll"
fi
echo "$WINEPREFIX"
