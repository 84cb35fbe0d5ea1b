#!/usr/bin/env bash
# Install the Debian packages the tests need, and only those that are missing.
#
#   scripts/install_system_packages.sh [--node] PKG...
#
# A package already installed is left alone. `--node` also makes sure Node.js and npm are there, but
# asks apt for them (`nodejs npm`) only when no working `node` is on PATH: a machine image may ship
# its own Node.js with its own npm (NodeSource, nvm, a tarball), and Debian's `npm` package conflicts
# with it ("held broken packages"). Runs apt-get through sudo when not root. Prints what it installs,
# or that nothing was missing.
set -euo pipefail

sudo_cmd=()
[ "$(id -u)" = 0 ] || sudo_cmd=(sudo)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
works() { command -v "$1" >/dev/null 2>&1 && "$1" --version >/dev/null 2>&1; }

want_node=0
if [ "${1:-}" = "--node" ]; then want_node=1; shift; fi

missing=()
for pkg in "$@"; do
  installed "$pkg" || missing+=("$pkg")
done
if [ "$want_node" = 1 ]; then
  if ! works node; then
    missing+=(nodejs npm)
  elif ! works npm; then
    echo "install_system_packages: node is on PATH ($(command -v node)) but npm is not; Debian's npm" \
      "would conflict with that Node.js: install npm with your Node.js distribution." >&2
    exit 2
  fi
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_system_packages: nothing missing ($*; node and npm checked when --node)"
  exit 0
fi

echo "install_system_packages: installing ${missing[*]}"
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}"
echo "install_system_packages: installed ${missing[*]}"
