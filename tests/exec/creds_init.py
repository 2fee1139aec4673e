# SCM_CREDENTIALS naming pid 1 (allowed to root, EPERM otherwise), a
# non-blocking receive on an empty socket, and a send to a closed peer.
import socket, os, array
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    a.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, array.array("i", [1, 0, 0]))])
except OSError as e: print("creds", e.errno)
try: b.recv(1, socket.MSG_DONTWAIT)
except OSError as e: print("recv", e.errno)
a.close()
try: b.send(b"y")
except OSError as e: print("send", e.errno)
# SCM_RIGHTS naming an fd the program does not have open.
try:
    b.sendmsg([b"z"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [999]))])
except OSError as e: print("rights", e.errno)
# A receive that sleeps until a child sends: the path names the waker.
import time
c, d = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
if os.fork() == 0:
    time.sleep(0.3); d.send(b"w"); os._exit(0)
print("woken", c.recv(1)); os.wait()
