#!/usr/bin/env bash
# Make Mesa's lavapipe (a Vulkan driver that runs on the CPU) available to the WebGPU
# execution provider of onnxruntime-node, without changing the system.
#
# Debian 12's own Mesa 22 is refused by Dawn ("No supported adapters"); Mesa 25 from
# <codename>-backports works. This script resolves mesa-vulkan-drivers (and the Vulkan loader
# libvulkan1 plus any newer libraries it needs) against the packages installed on this machine,
# using a private apt configuration under .cache/lavapipe/apt (the system's apt configuration,
# lists and cache are not touched), downloads the .debs, unpacks them with `dpkg-deb -x` into
# .cache/lavapipe/root, and writes .cache/lavapipe/lvp_icd.json with an absolute library_path.
#
# stdout: shell `export` lines only, so `eval "$(scripts/lavapipe.sh)"` works:
#   export VK_ICD_FILENAMES=...   export VK_DRIVER_FILES=...   export LD_LIBRARY_PATH=...
# LD_LIBRARY_PATH is read by the dynamic linker at process start only: export it before
# starting node (Dawn dlopens libvulkan.so.1, which may live in .cache/lavapipe/root).
# Progress goes to stderr. Idempotent: when already done it only re-checks and prints.
# Exit 0 on success, non-zero with a one-line reason on stderr otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
C="${LAVAPIPE_DIR:-$ROOT/.cache/lavapipe}"
APT="$C/apt"
PREFIX="$C/root"
ICD="$C/lvp_icd.json"
STAMP="$C/.done"

log() { echo "lavapipe: $*" >&2; }
die() { echo "lavapipe: $*" >&2; exit 1; }

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null \
  || die "needs apt-get and dpkg-deb (Debian or Ubuntu)"

find_lvp() { find "$PREFIX" -name 'libvulkan_lvp.so' -print -quit 2>/dev/null || true; }

# Library folders under PREFIX that hold shared objects, for LD_LIBRARY_PATH.
lib_dirs() {
  find "$PREFIX" -name '*.so*' \( -type f -o -type l \) -printf '%h\n' 2>/dev/null \
    | grep -v '/dri$' | sort -u | paste -sd: -
}

print_env() {
  local dirs
  dirs="$(lib_dirs)"
  echo "export VK_ICD_FILENAMES=$ICD"
  echo "export VK_DRIVER_FILES=$ICD"
  echo "export LD_LIBRARY_PATH=${dirs}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
}

check() {
  local lvp dirs missing
  lvp="$(find_lvp)"
  [ -n "$lvp" ] && [ -f "$ICD" ] || return 1
  dirs="$(lib_dirs)"
  missing="$(LD_LIBRARY_PATH="$dirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ldd "$lvp" | grep 'not found' || true)"
  if [ -n "$missing" ]; then
    log "unresolved libraries for $lvp:"; echo "$missing" >&2; return 2
  fi
  # The Vulkan loader must be found either in PREFIX or on the system.
  if ! ls "$PREFIX"/usr/lib/*/libvulkan.so.1 >/dev/null 2>&1 \
     && ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep 'libvulkan.so.1 ' >/dev/null; then
    # (grep without -q: with pipefail, -q's early exit would fail the pipeline through SIGPIPE)
    log "libvulkan.so.1 (Vulkan loader) not found"; return 2
  fi
  return 0
}

if [ -f "$STAMP" ] && check; then
  print_env
  exit 0
fi

# --- Private apt configuration, using the mirror the system already uses -------------------
. /etc/os-release
CODENAME="${VERSION_CODENAME:-}"
[ -n "$CODENAME" ] || die "cannot tell the distribution codename from /etc/os-release"

MIRROR=""
if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
  MIRROR="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources \
            | awk '{print $2}' | grep -E '/(debian|ubuntu)/?$' | grep -v security | head -n1 || true)"
fi
if [ -z "$MIRROR" ] && [ -f /etc/apt/sources.list ]; then
  MIRROR="$(grep -hE '^deb[[:space:]]' /etc/apt/sources.list \
            | sed -E 's/\[[^]]*\]//' | awk '{print $2}' | grep -v security | head -n1 || true)"
fi
MIRROR="${LAVAPIPE_MIRROR:-${MIRROR:-http://deb.debian.org/debian}}"
MIRROR="${MIRROR%/}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
SIGNED=""
[ -f "$KEYRING" ] && SIGNED="[signed-by=$KEYRING] "

mkdir -p "$APT/lists/partial" "$APT/archives/partial" "$APT/cache" "$APT/parts" "$APT/prefs"
cat >"$APT/sources.list" <<EOF
deb ${SIGNED}$MIRROR $CODENAME main
deb ${SIGNED}$MIRROR $CODENAME-updates main
deb ${SIGNED}$MIRROR $CODENAME-backports main
EOF

APTOPTS=(
  -o "Dir::Etc::sourcelist=$APT/sources.list"
  -o "Dir::Etc::sourceparts=$APT/parts"
  -o "Dir::Etc::preferencesparts=$APT/prefs"
  -o "Dir::State::Lists=$APT/lists"
  -o "Dir::Cache=$APT/cache"
  -o "Dir::Cache::archives=$APT/archives"
  -o "Debug::NoLocking=1"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Acquire::Languages=none"
  -o "APT::Install-Recommends=0"
  -o "APT::Install-Suggests=0"
)

log "apt-get update (private lists in $APT, mirror $MIRROR, $CODENAME + backports)"
apt-get "${APTOPTS[@]}" -qq --error-on=any update >&2 \
  || die "apt-get update failed for $MIRROR (network or mirror problem)"

# Pick the newest mesa-vulkan-drivers: backports if it has one (Debian 12), else the release.
BPO_VER="$(apt-cache "${APTOPTS[@]}" madison mesa-vulkan-drivers 2>/dev/null \
           | awk -F'|' -v s="$CODENAME-backports" '$3 ~ s {gsub(/ /,"",$2); print $2; exit}')"
if [ -n "$BPO_VER" ]; then TARGET="mesa-vulkan-drivers/$CODENAME-backports"; else TARGET="mesa-vulkan-drivers"; fi
MESA_VER="$(apt-cache "${APTOPTS[@]}" policy "$TARGET" 2>/dev/null | awk '/Candidate:/{print $2}')"
[ -n "$BPO_VER" ] && MESA_VER="$BPO_VER"
[ -n "$MESA_VER" ] || die "mesa-vulkan-drivers is not in the package lists of $MIRROR"
MAJOR="${MESA_VER%%.*}"; MAJOR="${MAJOR##*:}"
[ "${MAJOR:-0}" -ge 25 ] 2>/dev/null || die "only Mesa $MESA_VER is available here; Dawn needs Mesa 25 or newer"
log "mesa-vulkan-drivers $MESA_VER"

# Resolve against what is installed on this machine and download what is missing or too old.
rm -f "$APT/archives/"*.deb
apt-get "${APTOPTS[@]}" -y -qq --download-only install "$TARGET" libvulkan1 >&2 \
  || die "apt-get --download-only install $TARGET libvulkan1 failed"
# If the system already has the newest of something, apt downloads nothing for it; the two
# packages that matter must still be unpacked here, so fetch them explicitly when missing.
(cd "$APT/archives" && {
  ls mesa-vulkan-drivers_*.deb >/dev/null 2>&1 || apt-get "${APTOPTS[@]}" -qq download "$TARGET" >&2
}) || die "apt-get download $TARGET failed"

log "unpacking into $PREFIX"
rm -rf "$PREFIX"; mkdir -p "$PREFIX"
for deb in "$APT/archives/"*.deb; do
  log "  $(basename "$deb")"
  dpkg-deb -x "$deb" "$PREFIX"
done

LVP="$(find_lvp)"
[ -n "$LVP" ] || die "libvulkan_lvp.so not found in the unpacked packages"
SRC_ICD="$(find "$PREFIX" -path '*icd.d/lvp_icd*.json' -print -quit)"
[ -n "$SRC_ICD" ] || die "lvp_icd JSON not found in the unpacked packages"
sed -E "s#\"library_path\"[[:space:]]*:[[:space:]]*\"[^\"]*\"#\"library_path\": \"$LVP\"#" \
  "$SRC_ICD" >"$ICD"
grep -q "\"library_path\": \"$LVP\"" "$ICD" || die "could not rewrite library_path in $ICD"

if ! check; then
  die "lavapipe unpacked but its libraries do not resolve (see above)"
fi
touch "$STAMP"
log "ready: $ICD"
print_env
