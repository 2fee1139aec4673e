# Fill a non-blocking stream socket until EAGAIN, wait for EPOLLOUT (edge
# triggered) while the peer drains it; EPOLLRDHUP once the peer shuts down.
import socket, select, threading, time
a, b = socket.socketpair()
a.setblocking(False)
n = 0
try:
    while True: n += a.send(b"x" * 4096)
except BlockingIOError: pass
ep = select.epoll()
ep.register(a.fileno(), select.EPOLLOUT | select.EPOLLET | select.EPOLLRDHUP)
print("full:", n > 0, "no EPOLLOUT yet:", ep.poll(0.1))
def drain():
    time.sleep(0.2)
    got = 0
    while got < n: got += len(b.recv(65536))
threading.Thread(target=drain).start()
print("EPOLLOUT after the drain:", ep.poll(3))
b.shutdown(socket.SHUT_WR)
time.sleep(0.1)
ep.modify(a.fileno(), select.EPOLLIN | select.EPOLLRDHUP)
print("after peer SHUT_WR:", ep.poll(1))
b.close()
time.sleep(0.1)
print("after peer close:", sorted(e for _, e in ep.poll(1)))
