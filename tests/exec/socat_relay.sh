#!/bin/bash
# socat over unix sockets: a UNIX-LISTEN:...,fork server appends what each
# client sends to a file; two UNIX-CONNECT clients send payload.bin (in
# $WORKDIR) one after the other, and the file must hold it twice, byte for
# byte. Then an EXEC: channel: socat runs `cat` with a socketpair as its
# standard input and output, across exec.
set -e
cd "${WORKDIR:-.}"
rm -f s.sock out.bin
socat -u UNIX-LISTEN:s.sock,fork OPEN:out.bin,creat,append &
srv=$!
for _ in $(seq 100); do [ -S s.sock ] && break; sleep 0.05; done
size=$(stat -c %s payload.bin)
for n in 1 2; do
    socat -u OPEN:payload.bin UNIX-CONNECT:s.sock
    # The server's child may still be writing: wait for all of it.
    for _ in $(seq 200); do
        [ "$(stat -c %s out.bin 2>/dev/null || echo 0)" -ge $((n * size)) ] && break
        sleep 0.05
    done
done
kill "$srv"
wait "$srv" 2>/dev/null || true
cat payload.bin payload.bin | cmp - out.bin && echo "relay: byte-exact"
echo "through exec" | socat - EXEC:cat
