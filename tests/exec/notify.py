# A service manager in miniature: receive systemd-notify's READY=1 with
# its credentials, then its barrier (a pipe's write end, passed in flight),
# and close the pipe so that systemd-notify's barrier completes.
import socket, os, subprocess, array
path = os.path.join(os.environ.get("WORKDIR", "."), "notify.sock")
try: os.unlink(path)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
env = dict(os.environ, NOTIFY_SOCKET=path)
p = subprocess.Popen(["systemd-notify", "READY=1"], env=env)
space = socket.CMSG_SPACE(12) + socket.CMSG_SPACE(4 * 8)
msg, anc, flags, _ = s.recvmsg(4096, space)
creds = [array.array("i", a[2][:12]) for a in anc if a[1] == socket.SCM_CREDENTIALS]
print("ready:", msg, "uid/gid:", creds[0][1] == os.getuid(), creds[0][2] == os.getgid(),
      "pid is a live process:", os.path.exists("/proc/%d" % creds[0][0]))
msg, anc, flags, _ = s.recvmsg(4096, space)
fds = [fd for a in anc if a[1] == socket.SCM_RIGHTS for fd in array.array("i", a[2])]
print("barrier:", msg, "fds:", len(fds), "a pipe:", [os.stat(f).st_mode >> 12 == 1 for f in fds])
for fd in fds: os.close(fd)
print("systemd-notify exit:", p.wait())
