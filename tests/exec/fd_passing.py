# Passing fds over model sockets: a pipe and a socket in one SCM_RIGHTS
# message, poll readiness, a forked client over an abstract stream name
# (SO_PEERCRED), and a datagram pathname socket. Run natively and under
# `afunix exec`: the output must be the same.
import socket, os, select, sys
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
os.write(w, b"through a pipe")
socket.send_fds(a, [b"fds"], [r, a.fileno()])
msg, fds, flags, addr = socket.recv_fds(b, 16, 4)
print("got", msg, len(fds), flags)
print("pipe says", os.read(fds[0], 64))
s2 = socket.socket(fileno=fds[1])
print("passed socket type", s2.type, s2.getsockname())
# poll
p = select.poll(); p.register(b, select.POLLIN)
print("poll empty", p.poll(0))
a.send(b"x")
print("poll ready", p.poll(1000))
print(b.recv(4))
print("poll after", p.poll(0))
# fork + stream + abstract
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("\0afunix-test")
srv.listen()
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect("\0afunix-test")
    c.sendall(b"hello from child " + str(os.getpid()).encode())
    c.close()
    os._exit(0)
conn, _ = srv.accept()
data = b""
while True:
    d = conn.recv(100)
    if not d: break
    data += d
print("server got", data.decode().split()[:3])
print("peercred pid ok", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[:4] == pid.to_bytes(4, 'little'))
os.waitpid(pid, 0)
# pathname
path = os.path.join(os.environ.get("WORKDIR", "."), "sock")
try: os.unlink(path)
except FileNotFoundError: pass
d1 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d1.bind(path)
d2 = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); d2.sendto(b"to path", path)
print(d1.recvfrom(16))
