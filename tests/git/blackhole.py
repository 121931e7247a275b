#!/usr/bin/env python3
"""A stalled remote for tests: a TCP listener on 127.0.0.1:PORT that accepts
every connection and never sends or reads a byte (the connections stay open
until the process is killed).  usage: blackhole.py PORT LOG
Each accepted connection appends a line "accepted" to LOG."""
import socket, sys, time

port, log = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port))
s.listen(64)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    with open(log, "a") as f:
        f.write("accepted\n")
