#!/usr/bin/env bash
# Seed 000's walkthrough with a real RDP client: FreeRDP's xfreerdp gets its
# CALs from caldb through the session host caldb-host, and each step shows
# in SELECTs on the database the host serves from.
#
#   1. a license server with CALs and a per-device host     (caldb)
#   2. the session host on a loopback port                  (caldb-host)
#   3. the client connects                                  (xfreerdp)
#
# First connection: a temporary CAL, validated because alice's logon
# succeeded (seed 000's DoS guard); second: upgraded to a permanent CAL;
# then the clock moves into the renewal window and the third connection
# renews it. The CAL the client keeps is compared with the bytes the
# database issued. Run from the repository after `cargo build`; needs
# xfreerdp and xvfb-run (scripts/real-clients.sh installs them).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
caldb=${CALDB:-$root/target/debug/caldb}
caldb_host=${CALDB_HOST:-$root/target/debug/caldb-host}
work=$(mktemp -d)
host_pid=
cleanup() {
    if [ -n "$host_pid" ]; then kill -TERM "$host_pid" 2>/dev/null && wait "$host_pid" || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
mkdir home

say() { printf '\n== %s\n' "$*"; }
show() { "$caldb" -table demo.redb "$@"; }

say "1. caldb: a license server with 10 WS2025 device CALs, and host RDSH1 that finds it"
"$caldb" demo.redb "SET CLOCK '2026-03-02 09:00:00'; CREATE SERVER LS1; ACTIVATE SERVER LS1;
  INSTALL KEYPACK ON LS1 PRODUCT WS2025 CAL DEVICE COUNT 10;
  CREATE HOST RDSH1 MODE DEVICE LICENSE SERVERS (LS1);" >/dev/null

say "2. caldb-host: RDSH1 on a free loopback port, users from users.txt"
echo 'alice:secret' > users.txt
"$caldb_host" --db demo.redb --host RDSH1 --listen 127.0.0.1:0 --users users.txt --log host.log > host.out &
host_pid=$!
for _ in $(seq 100); do grep -q listening host.out 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' host.out)
echo "listening on 127.0.0.1:$port"

connect() {
    say "3. xfreerdp /client-hostname:PC-ALPHA /u:alice ($1)"
    HOME=$work/home xvfb-run -a xfreerdp "/v:127.0.0.1:$port" /u:alice /p:secret /d:CORP /sec:rdp \
        /client-hostname:PC-ALPHA /cert:ignore /auth-only 2>&1 | grep -v '^\[.*\] \[' || true
    show "SELECT id, kind, status, validated, computer, issued, expires FROM licenses;"
    show "SELECT id, product, total, issued, available FROM keypacks WHERE type != 'temporary';"
    local cal
    cal=$(ls home/.config/freerdp/licenses/*.cal)
    echo "xfreerdp keeps $(basename "$cal"): $(stat -c %s "$cal") bytes, sha256 $(sha256sum < "$cal" | cut -c1-16)"
}

connect "new client: a temporary CAL, validated by the logon"
connect "validated temporary CAL: upgraded to a permanent CAL"

expires=$("$caldb" -csv -noheader demo.redb "SELECT expires FROM licenses WHERE kind = 'permanent' AND status = 'active';")
window=$(date -u -d "$expires UTC - 3 days" '+%Y-%m-%d %H:%M:%S')
say "the clock moves to $window, 3 days before the permanent CAL expires"
"$caldb" demo.redb "SET CLOCK '$window';" >/dev/null
connect "in the renewal window: renewed, with a new expiry"

say "every decision is one statement in history (after the 5 of the deployment)"
show "SELECT seq, statement FROM history WHERE seq > 5;"
problems=$("$caldb" -csv -noheader demo.redb "CHECK;")
if [ -z "$problems" ]; then echo "CHECK: no problem found"; else echo "CHECK: $problems"; fi
"$caldb" -list -noheader demo.redb "SELECT statement FROM history ORDER BY seq;" | sed 's/$/;/' | "$caldb" -bail replay.redb >/dev/null
# The license server's credentials (its key, chain and CAL secret) are made
# when the host starts, outside any statement (docs/choices.md 40), so a
# replay of the statements has none: the comparison leaves them out.
dump_without_credentials() { "$caldb" "$1" .dump | grep -v "^INSERT INTO caldb_store VALUES('credentials'"; }
if diff <(dump_without_credentials demo.redb) <(dump_without_credentials replay.redb) >/dev/null; then
    echo "the history, run on a new file, gives the same .dump"
else
    echo "the history does NOT replay to the same .dump" >&2
    exit 1
fi
say "the host's log"
sed 's/^[0-9-]* [0-9:.]* //' host.log
