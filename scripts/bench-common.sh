# Sourced by scripts/bench-http and scripts/bench-migrate: the JDK, bin/thinsr, and a source
# image of 32 GiB virtual size with 2 GiB of random data in 1024 scattered 2 MiB extents.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/java-env.sh
source "$root/scripts/java-env.sh"
thinsr_find_jdk
for tool in qemu-img:qemu-utils qemu-nbd:qemu-utils nbdcopy:libnbd-bin curl:curl; do
  command -v "${tool%%:*}" >/dev/null || { echo "${tool%%:*} missing: apt-get install ${tool#*:}" >&2; exit 1; }
done
# bin/thinsr as users run it: builds the jar when stale, starts with the AppCDS archive
thinsr() { "$root/bin/thinsr" "$@"; }
thinsr --version >/dev/null
export THINSR_HOME_UNUSED=1

make_source() { # make_source FILE: 32 GiB sparse raw, 2 GiB of data in 1024 x 2 MiB extents
  local input=$1 virtual=$((32 << 30)) extent=$((2 << 20)) count=1024 slot k within
  if [ -f "$input" ] && [ "$(stat -c %s "$input")" = "$virtual" ]; then return; fi
  echo "creating $input: 32 GiB virtual, $count x 2 MiB random extents" >&2
  rm -f "$input"; truncate -s "$virtual" "$input"
  head -c $((extent * 16)) /dev/urandom >"$input.pattern"
  slot=$((virtual / count))
  for ((k = 0; k < count; k++)); do
    within=$(( (k * 7919 % 15) * extent ))
    dd if="$input.pattern" of="$input" bs=$extent count=1 skip=$((k % 16)) \
       seek=$(( (k * slot + within) / extent )) conv=notrunc status=none
  done
  rm -f "$input.pattern"
}

now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }
mibps() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n / 1048576 / s }'; }   # mibps BYTES SECONDS
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# start_serve SR LOG: starts `thinsr serve` on a free loopback port; sets $server (pid) and $base (URL)
start_serve() {
  # the binary itself, not the shell function: $! must be the server (bin/thinsr execs java)
  "$root/bin/thinsr" serve --sr "$1" --listen 127.0.0.1:0 >"$2.out" 2>"$2" &
  server=$!
  for _ in $(seq 1 200); do
    base=$(grep -o 'http://127.0.0.1:[0-9]*/' "$2.out" | head -1 || true)
    [ -n "$base" ] && return 0
    sleep 0.1
  done
  echo "thinsr serve did not start; see $2" >&2; return 1
}
vdi_path() { thinsr vdi-stat --sr "$1" "$2" --json | grep -o '"path" *: *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'; }
