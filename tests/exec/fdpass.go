// Fd passing with Go's net.UnixConn (WriteMsgUnix/ReadMsgUnix): non-blocking
// sockets behind Go's netpoller (edge-triggered epoll). Build static:
// CGO_ENABLED=0 go build fdpass.go. Run natively and under `afunix exec`:
// the output must be the same.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

func check(err error) {
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
}

// pass sends a pipe's read end over c0; c1 receives it and reads the pipe.
func pass(c0, c1 *net.UnixConn, text string) {
	r, w, err := os.Pipe()
	check(err)
	_, err = w.Write([]byte(text))
	check(err)
	w.Close()
	_, _, err = c0.WriteMsgUnix([]byte("fd"), syscall.UnixRights(int(r.Fd())), nil)
	check(err)
	r.Close()
	buf := make([]byte, 16)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := c1.ReadMsgUnix(buf, oob)
	check(err)
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	check(err)
	fds, err := syscall.ParseUnixRights(&msgs[0])
	check(err)
	got := os.NewFile(uintptr(fds[0]), "passed")
	data, err := io.ReadAll(got)
	check(err)
	got.Close()
	fmt.Printf("message %q, flags %d, %d fd, the pipe says %q\n", buf[:n], flags, len(fds), data)
}

func main() {
	// A socketpair made into net.UnixConns.
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	check(err)
	c0, err := net.FileConn(os.NewFile(uintptr(fds[0]), "a"))
	check(err)
	c1, err := net.FileConn(os.NewFile(uintptr(fds[1]), "b"))
	check(err)
	syscall.Close(fds[0])
	syscall.Close(fds[1])
	pass(c0.(*net.UnixConn), c1.(*net.UnixConn), "over a socketpair")

	// A listener on an abstract name, a client in a goroutine; the server
	// blocks in the netpoller until the client writes.
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: "@afunix-go-test", Net: "unix"})
	check(err)
	done := make(chan *net.UnixConn)
	go func() {
		c, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: "@afunix-go-test", Net: "unix"})
		check(err)
		time.Sleep(50 * time.Millisecond)
		done <- c
	}()
	s, err := l.AcceptUnix()
	check(err)
	c := <-done
	pass(c, s, "over a listener's connection")
	pass(s, c, "and back")
	fmt.Println("server address:", s.LocalAddr())
	c.Close()
	n, err := s.Read(make([]byte, 1))
	fmt.Println("after the client closed:", n, err)
	s.Close()
	l.Close()
}
