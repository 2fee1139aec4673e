# Connect to a pathname socket that a process outside the run listens on
# (outside_server.py), send, and print the answer or the errno.
import socket, os, sys
path = sys.argv[1]
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    c.connect(path)
    c.sendall(b"hello kernel")
    print("connected:", c.recv(16))
except OSError as e:
    print("refused:", e.errno)
