#!/usr/bin/env python3
"""Records what a client sends to the Engine API: a unix-socket proxy in front of a daemon.

Usage: record-requests.py LISTEN_SOCKET UPSTREAM_SOCKET LOG_FILE

Every byte a client sends is forwarded to UPSTREAM_SOCKET and the answers back; the log
gets, in the order they were sent, each HTTP request line and each JSON body line
(`{...}`), so two clients' logs can be diffed (tests/cli/wire-compare.sh). Stops on SIGTERM.
"""
import os
import re
import socket
import sys
import threading

listen_path, upstream_path, log_path = sys.argv[1:4]
lock = threading.Lock()
log = open(log_path, "a", buffering=1)
request_line = re.compile(rb"^(GET|HEAD|POST|PUT|DELETE) (\S+) HTTP/1\.1\r?$")


def pump(src, dst, record):
    buf = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if record:
                buf += data
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    m = request_line.match(line)
                    if m:
                        with lock:
                            log.write(f"{m.group(1).decode()} {m.group(2).decode()}\n")
                    elif line.startswith(b"{"):
                        with lock:
                            log.write(line.decode(errors="replace") + "\n")
                if len(buf) > 1 << 20:
                    buf = b""
        if record and buf.startswith(b"{"):
            with lock:
                log.write(buf.decode(errors="replace") + "\n")
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(client):
    up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    up.connect(upstream_path)
    a = threading.Thread(target=pump, args=(client, up, True), daemon=True)
    b = threading.Thread(target=pump, args=(up, client, False), daemon=True)
    a.start()
    b.start()
    a.join()
    b.join()
    client.close()
    up.close()


if os.path.exists(listen_path):
    os.unlink(listen_path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen_path)
srv.listen(64)
while True:
    conn, _ = srv.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
