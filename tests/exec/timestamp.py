# Receive timestamps on unix datagram and seqpacket sockets (SO_TIMESTAMP,
# SO_TIMESTAMPNS and their _NEW forms, as journald asks for them on
# /dev/log): the message comes first, the stamp lies between the send and
# the receive, a message queued before the option was set gets the time of
# its first receive (a peek and the read report the same), SO_TIMESTAMPING adds
# its SCM_TIMESTAMPING after them, stream reports none.
import socket, struct, time
SOL_SOCKET = socket.SOL_SOCKET
OPTS = {"SO_TIMESTAMP_OLD": (29, 1000), "SO_TIMESTAMPNS_OLD": (35, 1),
        "SO_TIMESTAMP_NEW": (63, 1000), "SO_TIMESTAMPNS_NEW": (64, 1)}

def stamp(cmsgs, ty, unit):
    got = [(l, t, d) for l, t, d in cmsgs if l == SOL_SOCKET and t == ty]
    if len(got) != 1 or len(got[0][2]) != 16:
        return None
    sec, frac = struct.unpack("qq", got[0][2])
    return sec + frac * unit / 1e9

for kind in (socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
    for name, (opt, unit) in OPTS.items():
        a, b = socket.socketpair(socket.AF_UNIX, kind)
        b.setsockopt(SOL_SOCKET, opt, 1)
        t0 = time.time()
        a.sendmsg([b"x"], [(SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", a.fileno()))])
        time.sleep(0.01)
        t1 = time.time()
        data, cmsgs, flags, _ = b.recvmsg(16, 256)
        first = (cmsgs[0][0], cmsgs[0][1]) == (SOL_SOCKET, opt) if cmsgs else False
        ts = stamp(cmsgs, opt, unit)
        for l, t, d in cmsgs:
            if t == socket.SCM_RIGHTS:
                for fd in struct.unpack("%di" % (len(d) // 4), d): socket.close(fd)
        ok = ts is not None and t0 - 0.001 <= ts <= t1 + 0.001
        print(kind, name, "stamp first:", first, "between send and receive:", ok, flags)
        a.close(); b.close()

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
a.send(b"early")
time.sleep(0.05)
t0 = time.time()
b.setsockopt(SOL_SOCKET, 35, 1)
_, c1, _, _ = b.recvmsg(16, 64, socket.MSG_PEEK)
time.sleep(0.01)
_, c2, _, _ = b.recvmsg(16, 64)
p, r = stamp(c1, 35, 1), stamp(c2, 35, 1)
print("queued before the option: stamped at the peek:", p is not None and p >= t0 - 0.001,
      "the read reports the same:", p == r)
_, c3, flags, _ = (a.send(b"y"), b.recvmsg(16, 0))[1]
print("no control buffer:", c3, "MSG_CTRUNC:", bool(flags & socket.MSG_CTRUNC))
b.setsockopt(SOL_SOCKET, 35, 0)
a.send(b"z")
print("turned off:", b.recvmsg(16, 64)[1])
# SO_TIMESTAMPING's software stamp (ts[0] of SCM_TIMESTAMPING) is the
# message's, after the SO_TIMESTAMPNS message; with OPT_RX_FILTER only
# if RX_SOFTWARE is asked too.
for flags in (0x10, 0x18, 0x20010, 0x20018):
    b.setsockopt(SOL_SOCKET, 35, 1)
    b.setsockopt(SOL_SOCKET, 37, flags)
    a.send(b"ts")
    _, c, _, _ = b.recvmsg(16, 256)
    ns = stamp(c, 35, 1)
    tsing = [d for l, t, d in c if (l, t) == (SOL_SOCKET, 37)]
    same = bool(tsing) and len(tsing[0]) == 48 and stamp([(SOL_SOCKET, 37, tsing[0][:16])], 37, 1) == ns
    print("SO_TIMESTAMPING", hex(flags), "types:", [t for _, t, _ in c], "ts[0] is the stamp:", same)
s, t = socket.socketpair()
t.setsockopt(SOL_SOCKET, 29, 1)
s.send(b"s")
print("stream:", t.recvmsg(16, 64)[1])
