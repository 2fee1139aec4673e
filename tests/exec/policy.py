# Under `afunix exec --deny 'file_receive,file=!memfd' --deny
# socket_listen,errno=EPERM`: a memfd passed over a socketpair arrives, a
# pipe is refused at security_file_receive (dropped, MSG_CTRUNC), and
# listen is refused. Natively (no policy) both arrive and listen succeeds.
import array
import os
import socket

a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
r, w = os.pipe()
m = os.memfd_create("job")
os.write(m, b"work")
for data, fd in ((b"m", m), (b"p", r)):
    a.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
for _ in range(2):
    data, anc, flags, _ = b.recvmsg(8, socket.CMSG_SPACE(4))
    print(data.decode(), len(anc), "ctrunc" if flags & socket.MSG_CTRUNC else "whole")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0afunix-policy-test-%d" % os.getpid())
try:
    s.listen(1)
    print("listening")
except OSError as e:
    print("listen errno", e.errno)
