# Bad input to the socket calls (through ctypes, so that nothing in Python
# checks it first), 200 forked children, and a close racing a blocked recv:
# the errnos must be Linux's, and the supervisor must neither crash nor leak.
import ctypes, os, socket, threading, time
libc = ctypes.CDLL(None, use_errno=True)
def call(f, *args):
    r = f(*args)
    return r if r >= 0 else -ctypes.get_errno()
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
s, t = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
bad = ctypes.c_void_p(16)
print("send bad buffer", call(libc.send, a.fileno(), bad, 10, 0))
print("send huge dgram", call(libc.send, a.fileno(), ctypes.c_char_p(b"x"), ctypes.c_size_t(1 << 40), 0))
print("sendmsg bad msghdr", call(libc.sendmsg, a.fileno(), bad, 0))
u = socket.socket(socket.AF_UNIX)
print("bind bad addr", call(libc.bind, u.fileno(), bad, 20))
print("connect bad addr", call(libc.connect, u.fileno(), bad, 20))
print("bind huge len", call(libc.bind, u.fileno(), ctypes.c_char_p(b"\x01\x00x"), 1 << 20))
a.send(b"y")
print("recv bad buffer", call(libc.recv, b.fileno(), bad, 10, 0))
print("getsockopt bad len", call(libc.getsockopt, a.fileno(), 1, 7, ctypes.create_string_buffer(4), bad))
print("socketpair bad array", call(libc.socketpair, 1, 1, 0, bad))
# 200 children, each with a socketpair and one message through it.
pids = []
for i in range(200):
    pid = os.fork()
    if pid == 0:
        x, y = socket.socketpair()
        x.send(b"%d" % i)
        os._exit(0 if y.recv(8) == b"%d" % i else 1)
    pids.append(pid)
print("children ok", all(os.waitpid(p, 0)[1] == 0 for p in pids))
# A close racing a recv blocked in another thread: the recv goes on
# (Linux holds the file) and gets the data sent afterwards.
got = []
th = threading.Thread(target=lambda: got.append(t.recv(4)))
th.start(); time.sleep(0.2)
t2 = os.dup(t.fileno()); t.close()
s.send(b"late")
th.join(5)
print("blocked recv after close", got)
