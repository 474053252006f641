#!/usr/bin/env bash
# Makes sure the real RDP clients the session host's tests drive are here:
# FreeRDP's xfreerdp (Debian package freerdp2-x11), xvfb-run (xvfb: xfreerdp
# wants an X display even with /auth-only) and rdesktop. Installs the missing
# ones with apt-get as root; anyone else gets an error naming what to install.
# `scripts/test.sh` calls it, so a fresh machine runs the real-client tests
# instead of skipping them; under CI=true a missing client is an error here
# and in the tests (tests/real_clients.rs), never a silent skip.
set -euo pipefail

declare -A package=([xfreerdp]=freerdp2-x11 [xvfb-run]=xvfb [rdesktop]=rdesktop)
missing=()
for tool in xfreerdp xvfb-run rdesktop; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${package[$tool]}")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "error: the real-client tests need ${missing[*]}; install them as root (apt-get install -y ${missing[*]})" >&2
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
    echo "note: outside CI the real-client tests skip, each with a printed line" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: the real-client tests need ${missing[*]} and there is no apt-get to install them with" >&2
    [ "${CI:-}" = "true" ] && exit 1
    exit 0
fi

echo "installing the real RDP clients: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh image may have no package lists yet; one update, then the install.
if ! apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi
for tool in xfreerdp xvfb-run rdesktop; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: '$tool' is still missing after installing ${missing[*]}" >&2
        exit 1
    fi
done
