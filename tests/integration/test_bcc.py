"""Independent count (issue 7): a BCC probe (Debian's python3-bpfcc, its own
code and its own object layout measured with ctypes, tests/bcc/count_asserts.py)
and sessiontrace attached to the same server must count the same session
assertions under a mixed workload: healthy requests, other exceptions, other
failing asserts, and K failing session reads from async and sync endpoints on
several client threads."""
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import INTERPRETERS, REPO, http_request

HARNESS = REPO / "tests" / "bcc" / "count_asserts.py"


def bcc_problem():
    r = subprocess.run(["/usr/bin/python3", "-c", "import bcc"], capture_output=True, text=True)
    if r.returncode:
        return "python3-bpfcc is not importable: " + r.stderr.strip().splitlines()[-1]
    if not os.path.exists(f"/lib/modules/{os.uname().release}/build"):
        return "no kernel headers at /lib/modules/$(uname -r)/build (scripts/deps.sh links them)"
    return None


@pytest.mark.parametrize("probe", ["assert", "raise"])
def test_bcc_agrees(tracers, servers, probe):
    why = bcc_problem()
    if why:
        pytest.skip(why)
    if not os.path.ismount("/sys/kernel/tracing"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"], check=False)
    interp = INTERPRETERS["debian-3.11"].require()  # the harness measures layouts in Debian's python3
    s = servers.start(interp, "mixed_app")
    bcc = subprocess.Popen(["/usr/bin/python3", str(HARNESS), str(s.pid)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        line = bcc.stdout.readline()
        assert line.strip() == "ready", line + bcc.stderr.read()
        t = tracers.start([s], extra=["--probe", probe])

        k = 45
        work = ([("/ok", 200)] * 120 + [("/caught/valueerror", 200)] * 30 +
                [("/caught/assert", 200)] * 30 + [("/escapes/keyerror", 500)] * 20 +
                [(f"/async/{i}", 500) for i in range(k // 3)] +
                [(f"/sync/{i}", 500) for i in range(k - k // 3)])
        random.Random(7).shuffle(work)
        bad = []

        def client(part):
            for path, want in part:
                st = http_request(s.port, path).status
                if st != want:
                    bad.append((path, st))

        ths = [threading.Thread(target=client, args=(work[j::3],)) for j in range(3)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        assert not bad, bad[:5]
        records = t.wait_records(k)
        records = t.stop()
        bcc.send_signal(signal.SIGINT)
        out, err = bcc.communicate(timeout=30)
    finally:
        if bcc.poll() is None:
            bcc.kill()
    count = int(out.strip().split("count=")[1])
    assert count == k, (count, err)
    assert len(records) == k
    assert sorted(r["request"]["path"] for r in records) == \
        sorted(p for p, st in work if p.startswith(("/async/", "/sync/")))
