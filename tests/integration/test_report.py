"""Incident forensics with `sessiontrace report` (issue 28), on generated
records files: 3,000 records over six hours, three services, causes and
routes, four pids, some in pods; rotated as the tracer and logrotate leave
them (FILE, FILE.1, FILE.2.gz, FILE.3.gz), a truncated last line, a gzip file
whose second member is corrupt, and a file given twice. Each filter alone
and combined gives exactly the expected counts; the timeline's buckets sum
to them; --format json carries the same numbers; --format jsonl passes the
matching lines through unchanged; 1 GB on standard input stays under 64 MB
of RSS. No BPF here: the report reads files."""
import datetime as dt
import gzip
import json
import os
import random
import re
import subprocess

import pytest

from conftest import TRACER_BIN

START = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.timezone.utc)
SERVICES = ["shop:app", "api:app", "admin:app"]
CAUSES = ["missing_middleware", "middleware_order", "mounted_app"]
ROUTES = ["/cart", "/items/{id}", "/admin/{page}"]
PIDS = [101, 102, 103, 104]
PODS = {101: ("c" * 64, "5a1e7c3d-2b4f-4c6a-9d8e-1f2a3b4c5d6e", "shop-web-0"),
        102: ("d" * 64, "6b2f8d4e-3c5a-4d7b-8e9f-2a3b4c5d6e7f", "shop-web-1")}


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def generate(n=3000):
    rnd = random.Random(28)
    out = []
    for i in range(n):
        t = START + dt.timedelta(seconds=i * 7.2 + rnd.random())  # six hours
        pid = rnd.choice(PIDS)
        r = {"ts": ts(t), "pid": pid, "ns_pid": pid, "tid": pid, "comm": "python3.11",
             "service": rnd.choice(SERVICES), "python": "3.11.2", "property": "session",
             "exception": {"type": "AssertionError", "message": "x"},
             "request": {"type": "http", "method": "GET", "path": f"/p/{i}", "root_path": "",
                         "client": "127.0.0.1:1"},
             "stack": [{"function": "f", "file": "/app/a.py", "line": 3}],
             "accessor": {"function": "f", "file": "/app/a.py", "line": 3},
             "route": rnd.choice(ROUTES), "cause": rnd.choice(CAUSES), "hint": "fix it"}
        if pid in PODS:
            cid, uid, host = PODS[pid]
            r["container"] = {"id": cid, "runtime": "containerd"}
            r["k8s"] = {"pod_uid": uid}
            r["hostname"] = host
        out.append(r)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The rotated set, oldest compressed; the lines as written; the records."""
    d = tmp_path_factory.mktemp("report")
    recs = generate()
    lines = [json.dumps(r, separators=(",", ":")) for r in recs]
    parts = [lines[:750], lines[750:1500], lines[1500:2250], lines[2250:]]
    base = d / "records.jsonl"
    with gzip.open(str(base) + ".3.gz", "wt") as f:
        f.write("\n".join(parts[0]) + "\n")
    # two gzip members, as `cat a.gz b.gz` makes: zlib reads on across them
    with open(str(base) + ".2.gz", "wb") as f:
        f.write(gzip.compress(("\n".join(parts[1][:400]) + "\n").encode()))
        f.write(gzip.compress(("\n".join(parts[1][400:]) + "\n").encode()))
    (d / "records.jsonl.1").write_text("\n".join(parts[2]) + "\n")
    # the live file: its last line cut short (the tracer was killed mid-write)
    base.write_text("\n".join(parts[3]) + "\n" + lines[-1][:100])
    names = [str(base) + ".3.gz", str(base) + ".2.gz", str(base) + ".1", str(base)]
    return d, names, recs, lines


def report(names, *args, stdin=None):
    r = subprocess.run([str(TRACER_BIN), "report"] + list(args) + names, capture_output=True,
                       text=True, timeout=120, input=stdin)
    return r


def when(r):
    return dt.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=dt.timezone.utc)


T1 = START + dt.timedelta(hours=2, minutes=2)
T2 = START + dt.timedelta(hours=2, minutes=20)
CASES = {
    "window": (["--since", ts(T1), "--until", ts(T2)], lambda r: T1 <= when(r) <= T2),
    "service": (["--service", "api:app"], lambda r: r["service"] == "api:app"),
    "route": (["--route", "/cart"], lambda r: r["route"] == "/cart"),
    "cause": (["--cause", "mounted_app"], lambda r: r["cause"] == "mounted_app"),
    "pid": (["--pid", "103"], lambda r: r["pid"] == 103),
    "container": (["--container", "c" * 64], lambda r: r.get("container", {}).get("id") == "c" * 64),
    "pod": (["--pod-uid", PODS[102][1]], lambda r: r.get("k8s", {}).get("pod_uid") == PODS[102][1]),
    "hostname": (["--hostname", "shop-web-0"], lambda r: r.get("hostname") == "shop-web-0"),
    "combined": (["--service", "shop:app", "--cause", "middleware_order", "--since",
                  "2026-11-24T11:00:00+01:00", "--until", "2026-11-24T13:00:00Z"],
                 lambda r: r["service"] == "shop:app" and r["cause"] == "middleware_order" and
                 START + dt.timedelta(hours=2) <= when(r) <= START + dt.timedelta(hours=5)),
    "nothing": (["--service", "nope:app"], lambda r: False),
    "relative-all": (["--since", "3650d"], lambda r: True),
    "none": ([], lambda r: True),
}


@pytest.mark.parametrize("case", list(CASES))
def test_filters_exact(files, case):
    _, names, recs, lines = files
    args, pred = CASES[case]
    # the cut last line repeats the last record's start: no record, one invalid line
    want = [r for r in recs if pred(r)]
    r = report(names, "--format", "json", *args)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["records"] == len(want), (case, got["records"], len(want))
    assert got["read"] == len(recs)
    assert got["invalid_lines"] == 1  # the cut line
    assert sum(b["count"] for b in got["timeline"]["buckets"]) == len(want)
    assert sum(c["count"] for c in got["by_cause"]) == len(want)
    if want:
        assert len(got["timeline"]["buckets"]) <= 60
    # jsonl: the matching lines themselves, in the order read
    j = report(names, "--format", "jsonl", *args)
    assert j.returncode == 0, j.stderr
    assert j.stdout.splitlines() == [lines[recs.index(x)] for x in want]
    # text: the same count, read and matched, and a timeline whose rows sum to it
    t = report(names, *args)
    assert t.returncode == 0, t.stderr
    first = t.stdout.splitlines()[0]
    if args:
        assert first.startswith(f"{len(want)} records matched, of {len(recs)} read"), first
    else:
        assert first.startswith(f"{len(recs)} records"), first
    rows = re.findall(r"^  \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ  [# ]+ +(\d+)", t.stdout, re.M)
    assert sum(map(int, rows)) == len(want), t.stdout[:2000]
    assert "\x1b" not in t.stdout


def test_timeline_marks_and_bucket(files):
    _, names, recs, _ = files
    r = report(names, "--bucket", "1h", "--cause", "mounted_app")
    assert r.returncode == 0, r.stderr
    assert "timeline (1h buckets):" in r.stdout
    rows = re.findall(r"^  (\S+)  [# ]+ +(\d+)(.*)$", r.stdout, re.M)
    assert len(rows) == 6 and [x[0] for x in rows][0] == "2026-11-24T08:00:00Z", rows
    mine = [x for x in recs if x["cause"] == "mounted_app"]
    assert [int(x[1]) for x in rows] == [
        sum(1 for x in mine if when(x).hour == h) for h in range(8, 14)]
    assert "<- first mounted_app" in rows[0][2] and "<- last mounted_app" in rows[-1][2]
    j = json.loads(report(names, "--bucket", "1h", "--format", "json").stdout)
    assert j["timeline"]["bucket_seconds"] == 3600 and len(j["timeline"]["buckets"]) == 6


def test_rotated_compressed_twice_and_corrupt(files, tmp_path):
    d, names, recs, lines = files
    # a file given twice is read once
    r = report(names + [names[2]], "--format", "json")
    assert json.loads(r.stdout)["records"] == len(recs)
    assert "read once" in r.stderr
    # a gzip file whose second member is corrupt: what came before counts, one line says so
    bad = tmp_path / "bad.jsonl.gz"
    second = bytearray(gzip.compress(("\n".join(lines[10:20]) + "\n").encode()))
    second[20:40] = b"\xff" * 20
    bad.write_bytes(gzip.compress(("\n".join(lines[:10]) + "\n").encode()) + bytes(second))
    r = report([str(bad)], "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["records"] == 10
    assert re.search(r"bad\.jsonl\.gz: corrupt compressed data; the rest of it is skipped",
                     r.stderr), r.stderr
    # bad options: one line, exit 2
    for args in (["--since", "yesterday"], ["--pid", "x"], ["--bucket", "0s"],
                 ["--format", "xml"]):
        r = report(names, *args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)


def test_a_gigabyte_on_stdin(files):
    """1 GB of records through a pipe: streamed, bounded (peak RSS < 64 MB)."""
    _, _, _, lines = files
    block = ("\n".join(lines[:300]) + "\n").encode()
    total = 1 << 30
    p = subprocess.Popen(["/usr/bin/time", "-f", "maxrss_kb=%M", str(TRACER_BIN), "report",
                          "--format", "json", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    sent = 0
    while sent < total:  # its output is one JSON object: no pipe of ours fills meanwhile
        p.stdin.write(block)
        sent += len(block)
    p.stdin.close()
    out, err = p.stdout.read(), p.stderr.read()
    p.wait(timeout=600)
    assert p.returncode == 0, err[-2000:]
    got = json.loads(out)
    blocks = -(-total // len(block))
    assert got["records"] == 300 * blocks
    rss = int(re.search(rb"maxrss_kb=(\d+)", err).group(1))
    print(f"report over {blocks * len(block) >> 20} MiB: peak RSS {rss} kB")  # docs, "Measured"
    if "ASAN_OPTIONS" not in os.environ:
        assert rss < 64 * 1024, rss
