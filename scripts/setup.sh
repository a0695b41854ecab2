#!/usr/bin/env bash
# setup.sh: brings a clone to the point where `npm run demo` and `npm test` run, and does nothing more.
# `npm run demo`, `npm test` and .ci/run call it first; it is idempotent and, when all is in place, takes a
# fraction of a second and prints one line.
#
#   scripts/setup.sh                 system packages, node_modules, native addon, TypeScript build
#   scripts/setup.sh --print-missing list the system packages that would be installed, and exit
#
# Steps, each only when needed:
#   1. System packages: Debian/Ubuntu through apt-get (as root, or through sudo); macOS through Homebrew.
#      Elsewhere, or when neither can be used, one line naming the command to run, and exit 1.
#   2. `npm ci` when node_modules is missing or older than package-lock.json.
#   3. The native addon (node-gyp) when native/ or binding.gyp is newer than build/Release/lk_audio.node.
#   4. The TypeScript build (tsup) when src/ or the build configuration is newer than dist/.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Milliseconds since the epoch: bash 5's EPOCHREALTIME where there is one, whole seconds elsewhere (macOS's bash 3.2).
now_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    echo $((10#$t / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}
readonly STARTED_MS=$(now_ms)

# Debian/Ubuntu: the addon's build (PortAudio and libpulse headers, a C++ toolchain), the private test sound
# server and its virtual room (PulseAudio, its ALSA plugin, LADSPA delay and reverb plugins), speech and audio
# tools (espeak-ng, sox).
readonly DEBIAN_PACKAGES=(
  g++ make python3 pkg-config
  portaudio19-dev libpulse-dev
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils swh-plugins
  sox espeak-ng
)
# macOS: the addon's build and the speech tools; the demo uses the Mac's own devices. Untested.
readonly BREW_PACKAGES=(portaudio pkg-config sox espeak-ng)

note() { echo "setup: $*" >&2; }
fail() {
  echo "setup: $*" >&2
  exit 1
}

require_node() {
  command -v node >/dev/null || fail "Node.js >= 20 is required (not found)"
  node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
    fail "Node.js >= 20 is required (found $(node --version))"
}

missing_debian_packages() {
  # One dpkg-query for all: a package it does not know is reported on stderr and left out of stdout.
  local installed
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${DEBIAN_PACKAGES[@]}" pipewire-pulse \
    2>/dev/null | awk '$2 == "installed" { print $1 }' || true)
  local p
  for p in "${DEBIAN_PACKAGES[@]}"; do
    # A desktop whose sound server is PipeWire keeps it: the demo then runs on its real devices, and only the
    # tests' private server (which needs PulseAudio's daemon) is unavailable.
    if [[ $p == pulseaudio ]] && grep -qxF pipewire-pulse <<<"$installed"; then continue; fi
    grep -qxF -- "$p" <<<"$installed" || echo "$p"
  done
}

missing_brew_packages() {
  local p
  for p in "${BREW_PACKAGES[@]}"; do
    brew list --versions "$p" >/dev/null 2>&1 || echo "$p"
  done
}

install_debian_packages() {
  local missing=("$@") sudo=()
  local command="apt-get install --no-install-recommends ${missing[*]}"
  if ((EUID != 0)); then
    if ! command -v sudo >/dev/null; then
      fail "missing system packages; as root, run: $command"
    fi
    sudo=(sudo)
  fi
  note "installing ${missing[*]}"
  # sudo resets the environment: DEBIAN_FRONTEND goes on the command line. --no-remove: never take away a
  # package of the user's (a sound server, say) to make room for ours.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      --no-remove "${missing[@]}" >&2 ||
    fail "installing system packages failed; run: sudo $command"
}

system_packages() {
  local missing=() p
  if command -v dpkg-query >/dev/null && command -v apt-get >/dev/null; then
    # A while-read loop rather than mapfile: macOS's bash 3.2 runs this script too.
    while read -r p; do missing+=("$p"); done < <(missing_debian_packages)
    ((${#missing[@]} == 0)) || install_debian_packages "${missing[@]}"
  elif [[ $(uname -s) == Darwin ]]; then
    command -v brew >/dev/null ||
      fail "Homebrew not found; install it, or run the equivalent of: brew install ${BREW_PACKAGES[*]}"
    while read -r p; do missing+=("$p"); done < <(missing_brew_packages)
    if ((${#missing[@]} > 0)); then
      note "installing ${missing[*]}"
      brew install "${missing[@]}" >&2 || fail "brew install failed; run: brew install ${missing[*]}"
    fi
  elif ! pkg-config --exists portaudio-2.0 2>/dev/null; then
    fail "no apt-get or Homebrew here; install PortAudio's headers (pkg-config portaudio-2.0), a C++ compiler, sox and espeak-ng"
  fi
  DID_PACKAGES=${#missing[@]}
}

# True when $1 is missing or any file under the other arguments is newer than it.
stale() {
  local target=$1
  shift
  [[ -e $target ]] || return 0
  [[ -n $(find "$@" -newer "$target" -print -quit 2>/dev/null) ]]
}

node_modules() {
  if stale node_modules/.package-lock.json package-lock.json; then
    note "npm ci"
    # Build the addon against Node's installed headers when they are there, instead of downloading them.
    if [[ -z ${npm_config_nodedir:-} && -f /usr/include/node/node_api.h && $(command -v node) == /usr/bin/node ]]; then
      export npm_config_nodedir=/usr
    fi
    npm ci --no-audit --no-fund >&2
    # npm ci builds the addon and leaves package-lock.json untouched: mark both as done.
    touch node_modules/.package-lock.json
    DID_NPM=1
  fi
}

native_addon() {
  if stale build/Release/lk_audio.node native binding.gyp; then
    note "building the native addon"
    npm run --silent build:native >&2
    DID_NATIVE=1
  fi
}

typescript_build() {
  if stale dist/cli/main.js src tsup.config.ts tsconfig.json package.json; then
    note "building the TypeScript sources"
    npx --no-install tsup --silent >&2
    DID_BUILD=1
  fi
}

if [[ ${1:-} == --print-missing ]]; then
  if command -v dpkg-query >/dev/null; then missing_debian_packages; elif command -v brew >/dev/null; then missing_brew_packages; fi
  exit 0
fi

DID_PACKAGES=0 DID_NPM=0 DID_NATIVE=0 DID_BUILD=0
require_node
system_packages
node_modules
native_addon
typescript_build

elapsed_ms=$(($(now_ms) - STARTED_MS))
if ((DID_PACKAGES + DID_NPM + DID_NATIVE + DID_BUILD == 0)); then
  echo "setup: everything in place (${elapsed_ms} ms)" >&2
else
  done_steps=()
  ((DID_PACKAGES == 0)) || done_steps+=("$DID_PACKAGES system packages")
  ((DID_NPM == 0)) || done_steps+=("npm ci")
  ((DID_NATIVE == 0)) || done_steps+=("native addon")
  ((DID_BUILD == 0)) || done_steps+=("TypeScript build")
  echo "setup: done in $((elapsed_ms / 1000)).$(((elapsed_ms % 1000) / 100)) s ($(
    IFS=,
    echo "${done_steps[*]}" | sed 's/,/, /g'
  ))" >&2
fi
