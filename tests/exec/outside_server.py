# A server outside the run: listen on argv[1], answer two connections with
# "echo " and the first five bytes they sent.
import socket, os, sys
path = sys.argv[1]
try: os.unlink(path)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(path); s.listen()
print("ready", flush=True)
for _ in range(2):
    c, _ = s.accept(); d = c.recv(64); c.sendall(b"echo " + d[:5]); c.close()
