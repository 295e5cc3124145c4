"""Hostile request paths end to end (issue 7): raw requests over a socket
with quotes, backslashes, controls, ESC sequences, percent-encoded newlines
and invalid UTF-8, non-ASCII, and paths of several KB. Every JSON line must
be strict UTF-8 JSON whose path is exactly what the server decoded (the app
logs scope["path"]) or a marked prefix of it; the human report must carry no
terminal control bytes."""
import json
import os
import socket

import pytest

from conftest import free_port

RAW = [
    "/h/quote%22and%5Cbackslash",
    '/h/raw"quote',
    "/h/tab%09cr%0Dnl%0Aend",
    "/h/esc%1B[31mred%1B[0m%1B]0;title%07",
    "/h/c1%C2%9Bcsi",
    "/h/bad%C3%28utf8%FF%FE",
    "/h/surrogate%ED%A0%80",
    "/h/caf%C3%A9-%E4%B8%AD-%F0%9F%98%80",
    "/h/nul%00byte",
    "/h/bidi%E2%80%AEevil",
    "/h/long/" + "a" * 3000,
    "/h/longer/" + "%E4%B8%AD" * 1200,
    "/h/" + "b" * 8000,
]


def send_raw(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data.split(b" ", 2)[1]) if data else None
    finally:
        s.close()


def test_hostile_paths(interp, tracers, servers):
    s = servers.start(interp, "hostile_app")
    # the app writes it in its own /tmp: inside the rootfs for a chroot interpreter
    log = f"{interp.root or ''}/tmp/sessiontrace-hostile-{s.pid}.log"
    if os.path.exists(log):
        os.unlink(log)
    t = tracers.start([s], quiet=False)
    statuses = {p: send_raw(s.port, p) for p in RAW}
    try:
        with open(log, encoding="ascii") as f:
            seen = [json.loads(l) for l in f]
    except FileNotFoundError:
        seen = []
    finally:
        if os.path.exists(log):
            os.unlink(log)
    # what the server accepted reached the app and failed; the rest it refused itself
    assert len(seen) == sum(1 for v in statuses.values() if v == 500), (statuses, seen)
    # a stricter HTTP parser may refuse a raw quote or NUL itself (400)
    assert len(seen) >= len(RAW) - 2, statuses
    t.wait_records(len(seen))
    t.stop()

    raw = t.json_path.read_bytes()
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(l.decode("utf-8", errors="strict")) for l in lines[:-1]]
    records = [r for r in records if r.get("kind") != "prediction"]  # inspect's, at attach
    assert len(records) == len(seen)
    got = [r["request"] for r in records]
    # The tracer writes U+FFFD for what is not valid UTF-8 in the str (lone surrogates)
    want_utf8 = [p.encode("utf-8", errors="replace").decode("utf-8") for p in seen]
    exact = [g["path"] for g in got if not g.get("path_truncated")]
    trunc = [g["path"] for g in got if g.get("path_truncated")]
    for p in exact:
        assert p in want_utf8, (p, want_utf8)
    for p in trunc:
        assert any(w.startswith(p) and len(w) > len(p) for w in want_utf8), p[:80]
    assert len(exact) + len(trunc) == len(want_utf8)
    assert sorted(exact) == sorted(w for w in want_utf8 if len(w.encode("utf-8")) < 1000)
    long_paths = [w for w in want_utf8 if len(w.encode("utf-8")) > 4096]
    assert long_paths and len(trunc) >= len(long_paths)

    out = t.stdout()
    assert out, "the human report is empty"
    assert b"\x1b" not in out and b"\x07" not in out and b"\r" not in out
    assert b"\xc2\x9b" not in out and b"\xe2\x80\xae" not in out
    assert b"\x00" not in out
