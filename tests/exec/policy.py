# Under `afunix exec --deny socket_listen,errno=EPERM`: a datagram with a
# file still passes, and listen is refused by the model's policy at
# security_socket_listen. Natively (no policy) listen succeeds.
import array
import os
import socket

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
a.sendmsg([b"p"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r]))])
data, anc, flags, _ = b.recvmsg(8, socket.CMSG_SPACE(4))
print(data.decode(), len(anc), "ctrunc" if flags & socket.MSG_CTRUNC else "whole")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0afunix-policy-test-%d" % os.getpid())
try:
    s.listen(1)
    print("listening")
except OSError as e:
    print("listen errno", e.errno)
