#!/bin/sh
# D-Bus over unix sockets: a private dbus-daemon listening on $WORKDIR/bus,
# and dbus-send clients that authenticate with EXTERNAL (the daemon reads
# their SO_PEERCRED and SO_PEERGROUPS and asks for SO_PEERSEC), list the
# bus's names, and ask the bus for the daemon's own pid and uid (from the
# credentials of its connection) and its id; then busctl (systemd's sd-bus, which
# also negotiates fd passing: NEGOTIATE_UNIX_FD, AGREE_UNIX_FD) asks again.
set -e
cd "${WORKDIR:-.}"
rm -f bus addr
dbus-daemon --session --nofork --address="unix:path=$PWD/bus" --print-address=1 >addr 2>daemon.err &
d=$!
for _ in $(seq 100); do [ -s addr ] && break; sleep 0.05; done
DBUS_SESSION_BUS_ADDRESS=$(cat addr)
export DBUS_SESSION_BUS_ADDRESS
call() {
    m=$1
    shift
    dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus "org.freedesktop.DBus.$m" "$@"
}
call ListNames
pid=$(call GetConnectionUnixProcessID string:org.freedesktop.DBus | awk '{print $2}')
[ "$pid" = "$d" ] && echo "daemon pid: the daemon's own"
[ "$(call GetConnectionUnixUser string:org.freedesktop.DBus | awk '{print $2}')" = "$(id -u)" ] &&
    echo "daemon uid: ours"
call GetId >/dev/null && echo "bus id: ok"
if command -v busctl >/dev/null 2>&1; then
    b() { busctl --address="$DBUS_SESSION_BUS_ADDRESS" call org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus "$@"; }
    b GetNameOwner s org.freedesktop.DBus
    b ListNames
    b GetConnectionCredentials s org.freedesktop.DBus | grep -q "\"ProcessID\" u $d" &&
        echo "sd-bus: the daemon's credentials"
fi
kill "$d"
wait "$d" 2>/dev/null || true
echo "dbus: done"
