import ctypes, os, socket, sys, json
libc = ctypes.CDLL(None, use_errno=True)
def sso(fd, lvl, opt, b):
    buf = ctypes.create_string_buffer(b, len(b)) if b else None
    r = libc.setsockopt(fd, lvl, opt, buf, len(b))
    return 0 if r == 0 else os.strerror(ctypes.get_errno()).split()[0] if False else ("E%d" % ctypes.get_errno())
def gso(fd, lvl, opt, n):
    buf = ctypes.create_string_buffer(b'\xaa'*max(n,1), max(n,1))
    l = ctypes.c_int(n)
    r = libc.getsockopt(fd, lvl, opt, buf, ctypes.byref(l))
    if r != 0:
        return ("E%d" % ctypes.get_errno(), l.value)
    return (l.value, buf.raw[:min(max(l.value,0), n)].hex())
def run(tag):
    out = {}
    for ty, tn in ((socket.SOCK_STREAM,'stream'),(socket.SOCK_DGRAM,'dgram'),(socket.SOCK_SEQPACKET,'seqpacket')):
        for opt in range(0, 100):
            res = {}
            a, b = socket.socketpair(socket.AF_UNIX, ty)
            res['g64'] = gso(a.fileno(), 1, opt, 64)
            res['g0'] = gso(a.fileno(), 1, opt, 0)
            res['g2'] = gso(a.fileno(), 1, opt, 2)
            res['s2'] = sso(a.fileno(), 1, opt, b'\x01\x00')
            res['s1'] = sso(a.fileno(), 1, opt, (1).to_bytes(4,'little'))
            res['g64b'] = gso(a.fileno(), 1, opt, 64)
            res['s7'] = sso(a.fileno(), 1, opt, (7).to_bytes(4,'little'))
            res['g64c'] = gso(a.fileno(), 1, opt, 64)
            res['sm1'] = sso(a.fileno(), 1, opt, (-1).to_bytes(4,'little',signed=True))
            res['g64d'] = gso(a.fileno(), 1, opt, 64)
            res['s0'] = sso(a.fileno(), 1, opt, (0).to_bytes(4,'little'))
            res['g64e'] = gso(a.fileno(), 1, opt, 64)
            res['s16'] = sso(a.fileno(), 1, opt, bytes.fromhex('01000000'+'05000000'+'00'*8))
            res['g64f'] = gso(a.fileno(), 1, opt, 64)
            a.close(); b.close()
            out[f"{tn} {opt}"] = res
    return out
if sys.argv[1] == 'root':
    print(json.dumps(run('root'), indent=None))
else:
    os.setgroups([1000]); os.setgid(1000); os.setuid(1000)
    print(json.dumps(run('user')))
