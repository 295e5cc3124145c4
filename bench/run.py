#!/usr/bin/python3
"""sessiontrace benchmarks: `make bench` (root). Debian's python3, stdlib only.

Every figure is measured side by side in one run, against real servers on
Debian's python3.11 (FastAPI 0.92, Starlette 0.26, uvicorn 0.17 with
uvloop/httptools), each one worker pinned to CPU 0, load (wrk) on CPU 1:

  attach    start -> `attached` line latency, N spawns per probe
  http      wrk on a healthy FastAPI endpoint behind SessionMiddleware:
            interleaved rounds of untraced / traced arms, median of the
            per-round throughput ratios; probe runs per request (the
            tracer's own counter, and the kernel's run_cnt) and BPF ns per
            run (kernel.bpf_stats_enabled: run_time_ns / run_cnt)
  loop      a Python raise/catch loop: ns per raise, untraced vs traced; the
            uprobe's own cost per run (added ns - BPF ns)
  hits      a process failing the session assertion 1000 times a second
            from a known depth (4 and > 64 frames), no server: every run is
            a hit, BPF ns per hit = run_time_ns / run_cnt
  storm     one worker failing every request as fast as it can for STORM s:
            failures (the app's own counter, exact) vs records in the -j
            file + `lost` from the tracer's exit summary; tracer RSS/CPU
            while idle and during the storm
  deep      failing requests whose stack is > 64 Python frames deep: BPF ns
            per captured hit, the non-matching runs subtracted
  discovery node mode's checks of Python processes: tracer CPU per
            Python process started that never serves, and a server's
            listen() -> `attached` latency (tests/apps/run_main.py)
  distro    the Debian 13 / sid interpreters of scripts/rootfs.sh (chroot):
            a healthy Starlette endpoint behind SessionMiddleware, interleaved
            untraced / default-trigger rounds (the assert probe up to 3.13,
            the watch trigger from 3.14): probe runs per request (tracer
            counter and kernel run_cnt), throughput ratio, attach latency;
            the raise probe's runs per request beside it
  watch     sid's 3.14 and 3.15, two apps whose healthy requests raise in
            Python (tests/apps/watch_fastapi.py, watch_starlette.py):
            interleaved untraced / watch / do_raise rounds, probe runs per
            request (kernel run_cnt), throughput and server CPU per request
            traced/untraced; a storm of failing requests under each trigger:
            exactness, BPF ns per hit, tracer CPU per 1000 failures

Traced arms: the raise probe, and the assert probe too when
`sessiontrace --help` mentions --probe and it attaches.

Writes a human table on stdout and bench/results.json. Every server and
tracer is stopped at the end, also on Ctrl-C or an error, and
kernel.bpf_stats_enabled is restored.

Environment: BENCH_QUICK=1 for short durations (development only);
SESSIONTRACE_BIN overrides the tracer binary. `bench/run.py --report FILE`
prints the report of a saved results.json again.
"""
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.dont_write_bytecode = True

REPO = Path(__file__).resolve().parents[1]
APPS = REPO / "bench" / "apps"
TEST_APPS = REPO / "tests" / "apps"  # the watch rows' apps, shared with tests/integration/test_watch.py
WORK = REPO / "build" / "bench"
RESULTS = REPO / "bench" / "results.json"
TRACER = Path(os.environ.get("SESSIONTRACE_BIN") or REPO / "build" / "sessiontrace")
PROFILER = REPO / "build" / "profile" / "sessiontrace"  # -DST_PROFILE (mk/bench.mk)
# enum st_prof in bpf/sessiontrace.bpf.c
PROF_STAGES = ["match", "task", "tstate", "frames", "self", "scope", "submit"]
PYTHON = "/usr/bin/python3.11"
ROOTFS = Path(os.environ.get("ST_ROOTFS", "/var/cache/sessiontrace/rootfs"))
DISTRO = [("trixie", "python3.13"), ("sid", "python3.13"), ("sid", "python3.14"),
          ("sid", "python3.15")]
STATS_SYSCTL = Path("/proc/sys/kernel/bpf_stats_enabled")
CLK_TCK = os.sysconf("SC_CLK_TCK")

QUICK = os.environ.get("BENCH_QUICK") == "1"
CFG = {
    "attach_runs": 3 if QUICK else 10,
    "http_rounds": 2 if QUICK else 5,
    "http_secs": 2 if QUICK else 5,
    "http_conns": 16,
    "loop_rounds": 2 if QUICK else 3,
    "loop_secs": 1 if QUICK else 2,
    "idle_secs": 3 if QUICK else 10,
    "storm_secs": 3 if QUICK else 10,
    "storm_conns": 64,
    "deep_secs": 2 if QUICK else 5,
    "deep_conns": 16,
    "hit_secs": 2 if QUICK else 3,
    "hit_rate": 1000,
    "hit_depths": [0, 70],
    "exec_loop": 1000 if QUICK else 3000,
    "exec_rounds": 2 if QUICK else 3,
    "watch_rounds": 2 if QUICK else 6,
    "disc_short": 50 if QUICK else 200,
    "disc_long": 20 if QUICK else 100,
    "disc_servers": 3 if QUICK else 10,
    "flood": 1000,
    "watch_secs": 2 if QUICK else 3,
}
TARGETS = {
    "attach_ms": 300,
    "nonmatch_bpf_ns": 100,
    "hit_bpf_ns": 2000,
    "rss_mb": 32,
    "tracer_ms_per_1000": 50,
    "exec_us": 10,
}


class BenchError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# processes: everything started is registered and stopped in cleanup()
# --------------------------------------------------------------------------

PROCS = []
CPUS = os.cpu_count() or 1


def pin(cpu):
    """taskset prefix: servers on CPU 0, load generators on CPU 1."""
    return ["taskset", "-c", str(cpu)] if CPUS >= 2 else []


def spawn(argv, **kw):
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(argv, start_new_session=True, **kw)
    PROCS.append(p)
    return p


def stop(p, sig=signal.SIGTERM, timeout=10.0):
    if p.poll() is None:
        try:
            p.send_signal(sig)
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=5)
        except ProcessLookupError:
            pass
    if p in PROCS:
        PROCS.remove(p)


def cleanup():
    for p in list(PROCS):
        # tracers detach on SIGINT; servers and wrk stop on SIGTERM
        stop(p, signal.SIGINT if getattr(p, "is_tracer", False) else signal.SIGTERM, 5.0)


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def tree_ticks(pid):
    """CPU of pid and its live children: node mode's decoding process too."""
    return cpu_ticks(pid) + sum(cpu_ticks(k) for k in children_of(pid))


def cpu_ns(pid, children=True):
    """CPU time of every thread of pid and (children) of its live children, in
    ns (schedstat: finer than the clock ticks of /proc/PID/stat)."""
    pids = [pid] + (children_of(pid) if children else [])
    total = 0
    for p in pids:
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def mem_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------

class Server:
    def __init__(self, module, name, root=None, python=PYTHON, app_dir=APPS):
        """root: run python with chroot ROOT (a scripts/rootfs.sh tree: no
        uvloop; httptools where it imports, else h11). app_dir: where module
        is (bench/apps, or tests/apps for the apps both share)."""
        self.module = module
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = WORK / f"{name}.log"
        argv = pin(0) + (["chroot", str(root)] if root else []) + [
            python, "-m", "uvicorn", f"{module}:app", "--app-dir", str(app_dir),
            "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"] + (
            # sid's httptools is built for 3.14 only: uvicorn's auto picks h11 elsewhere
            [] if root else ["--http", "httptools", "--loop", "uvloop"])
        self.cmd = " ".join(argv)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        # The storm server logs a traceback per request: keep them off the disk.
        self.log = open(self.log_path, "wb") if module != "storm_app" else subprocess.DEVNULL
        self.proc = spawn(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.pid = self.proc.pid  # taskset execs the interpreter: same pid

    def wait_ready(self, path, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                status, _ = http_get(self.url + path, timeout=1.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"server {self.module} not ready on port {self.port} "
                         f"(rc={self.proc.poll()}); run by hand: {self.cmd}")

    def stop(self):
        stop(self.proc, signal.SIGTERM)
        if self.log is not subprocess.DEVNULL:
            self.log.close()


# --------------------------------------------------------------------------
# tracer
# --------------------------------------------------------------------------

ATTACHED_RE = re.compile(r"attached pid=(\d+) python=(\S+) probe=(\w+)")
_PROG_NAMES = {}


def tracer_has_probe_flag():
    r = subprocess.run([str(TRACER), "--help"], capture_output=True, text=True, timeout=10)
    return "--probe" in r.stdout + r.stderr


def bpf_fdinfos(pid, kind):
    """/proc/PID/fdinfo of each of a process's descriptors of anon_inode:KIND
    (bpf-prog, bpf-map), as dicts."""
    fddir = f"/proc/{pid}/fd"
    for fd in os.listdir(fddir):
        try:
            if os.readlink(f"{fddir}/{fd}") != f"anon_inode:{kind}":
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                yield dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue


class Tracer:
    """build/sessiontrace -p PID -q [--probe P] [-j FILE]."""

    def __init__(self, pid, probe, probe_flag, json_path=None, extra=(), binary=TRACER):
        self.args = [str(binary), "-p", str(pid), "-q"] + list(extra)
        if probe_flag:
            self.args += ["--probe", probe]
        if json_path:
            self.args += ["-j", str(json_path)]
        self.pid_target = pid
        self.probe = probe
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.t_start = time.monotonic()
        self.proc = spawn(self.args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.proc.is_tracer = True
        self.pid = self.proc.pid
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.attach_s = None

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_attached(self, timeout=20.0):
        """Seconds from spawn to the attached line; BenchError with the
        tracer's stderr when it exits or times out first."""
        deadline = self.t_start + timeout
        with self.cond:
            while True:
                for t, line in self.lines:
                    m = ATTACHED_RE.search(line)
                    if m and int(m.group(1)) == self.pid_target:
                        if m.group(3) != self.probe:
                            raise BenchError(f"asked for the {self.probe} probe, got: {line}")
                        self.attach_s = t - self.t_start
                        return self.attach_s
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    break
                self.cond.wait(min(left, 0.2))
        self.proc.poll()
        err = "; ".join(l for _, l in self.lines) or "(no output)"
        stop(self.proc, signal.SIGINT)
        raise BenchError(f"tracer ({' '.join(self.args)}) not attached, rc={self.proc.returncode}: {err}")

    def prog_stats(self):
        """{program name: (run_time_ns, run_cnt)} for this tracer's BPF
        programs, from /proc/PID/fdinfo (needs kernel.bpf_stats_enabled)."""
        out = {}
        for info in bpf_fdinfos(self.pid, "bpf-prog"):
            pid = int(info["prog_id"])
            if pid not in _PROG_NAMES:
                r = subprocess.run(["bpftool", "prog", "show", "id", str(pid), "-j"],
                                   capture_output=True, text=True, timeout=10)
                _PROG_NAMES[pid] = json.loads(r.stdout).get("name", str(pid)) if r.returncode == 0 else str(pid)
            out[_PROG_NAMES[pid]] = (int(info["run_time_ns"]), int(info["run_cnt"]))
        return out

    def probe_stats(self):
        """(run_time_ns, run_cnt) of the programs this tracer's probe runs
        (the assert probe is do_raise_probe from 3.14)."""
        st = self.prog_stats()
        names = ["assert_probe", "do_raise_probe"] if self.probe == "assert" else [f"{self.probe}_probe"]
        return tuple(sum(st.get(n, (0, 0))[i] for n in names) for i in (0, 1))

    def stop(self):
        """SIGINT; returns the exit summary's counters."""
        stop(self.proc, signal.SIGINT, 15.0)
        self.reader.join(timeout=5)
        rc = self.proc.returncode
        summary = next((l for _, l in self.lines if "exiting:" in l), None)
        if rc != 0 or summary is None:
            raise BenchError(f"tracer exit rc={rc}, stderr: " + "; ".join(l for _, l in self.lines))

        def num(rx):
            m = re.search(rx, summary)
            return int(m.group(1)) if m else None
        return {
            "records": num(r"(\d+) records"),
            "lost": num(r"(\d+) lost"),
            "asserts": num(r"(\d+) AssertionError"),
            "runs": num(r"(\d+) probe runs"),
            "summary": summary,
        }


def delta(a, b):
    return (b[0] - a[0], b[1] - a[1])


# --------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------

def wrk(url, secs, conns):
    argv = pin(1) + ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--timeout", "10s", url]
    p = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = p.communicate(timeout=secs + 60)
    PROCS.remove(p)
    text = out.decode("utf-8", "replace")
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", text)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if p.returncode != 0 or not m or not rps:
        raise BenchError(f"wrk failed (rc={p.returncode}): {text}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errs = re.search(r"Socket errors: (.*)", text)
    return {
        "requests": int(m.group(1)),
        "rps": float(rps.group(1)),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errs.group(1) if errs else "",
    }


# --------------------------------------------------------------------------
# benchmarks
# --------------------------------------------------------------------------

def bench_attach(server, arms, probe_flag):
    """start -> attached line, N spawns per probe. Also decides which arms
    work: an arm whose first attach fails is dropped with the reason."""
    res, dropped = {}, {}
    for arm in list(arms):
        times = []
        for i in range(CFG["attach_runs"]):
            t = Tracer(server.pid, arm, probe_flag)
            try:
                times.append(t.wait_attached() * 1000)
            except BenchError as e:
                if i == 0 and arm != "raise":
                    dropped[arm] = str(e)
                    arms.remove(arm)
                    break
                raise
            t.stop()
        if times:
            res[arm] = {"ms": [round(x, 1) for x in times], "median_ms": round(statistics.median(times), 1),
                        "max_ms": round(max(times), 1)}
            log(f"  attach {arm}: median {res[arm]['median_ms']} ms, max {res[arm]['max_ms']} ms")
    return res, dropped


def stop_healthy(tr, s0, where=""):
    """Stop tr, which has seen only healthy traffic since its probe_stats() were
    s0: a record is a BenchError (its message starting with where). Returns the
    exit summary's counters and its probe programs' (run ns, runs) since s0."""
    kns, krun = delta(s0, tr.probe_stats())
    st = tr.stop()
    if st["records"]:
        raise BenchError(f"{where}healthy endpoint produced {st['records']} records")
    return st, kns, krun


def healthy_arm(server, url, arm, secs, probe_flag, agg, where=""):
    """One healthy-load window: wrk on url for secs under arm ("untraced",
    or a probe attached for the window), added to agg[arm] (requests,
    server CPU ticks, and for a probe: its summary runs, kernel runs and
    ns); returns (wrk's result, server CPU ticks)."""
    tr = None
    if arm != "untraced":
        tr = Tracer(server.pid, arm, probe_flag)
        tr.wait_attached()
        s0 = tr.probe_stats()
    c0 = cpu_ticks(server.pid)
    w = wrk(url, secs, CFG["http_conns"])
    c1 = cpu_ticks(server.pid)
    if w["non2xx"] or w["socket_errors"]:
        raise BenchError(f"{where}healthy endpoint: {w['non2xx']} non-2xx, socket errors "
                         f"{w['socket_errors']}")
    a = agg[arm]
    a["requests"] += w["requests"]
    a["cpu_ticks"] += c1 - c0
    if tr:
        st, kns, krun = stop_healthy(tr, s0, where)
        a["runs"] += st["runs"] or 0
        a["asserts"] += st["asserts"] or 0
        a["krun"] += krun
        a["kns"] += kns
    return w, c1 - c0


def new_agg(arms):
    return {a: {"requests": 0, "runs": 0, "asserts": 0, "krun": 0, "kns": 0, "cpu_ticks": 0}
            for a in arms}


def bench_http(server, arms, probe_flag):
    url = server.url + "/healthy"
    wrk(url, 2, CFG["http_conns"])  # warm up
    order = ["untraced"] + arms
    rounds = []
    agg = new_agg(order)
    for r in range(CFG["http_rounds"]):
        rot = order[r % len(order):] + order[:r % len(order)]
        row = {}
        for arm in rot:
            w, _ = healthy_arm(server, url, arm, CFG["http_secs"], probe_flag, agg)
            row[arm] = w["rps"]
        rounds.append(row)
        log("  http round %d: %s" % (r + 1, ", ".join(f"{k} {v:.0f} req/s" for k, v in row.items())))
    out = {"rounds": rounds, "arms": {}}
    for arm in order:
        a = agg[arm]
        d = {
            "median_rps": round(statistics.median(x[arm] for x in rounds), 1),
            "requests": a["requests"],
            "server_cpu_us_per_request": round(a["cpu_ticks"] / CLK_TCK * 1e6 / a["requests"], 1),
        }
        if arm != "untraced":
            ratios = [x[arm] / x["untraced"] for x in rounds]
            d.update({
                "ratio_median": round(statistics.median(ratios), 3),
                "ratio_min": round(min(ratios), 3),
                "ratio_max": round(max(ratios), 3),
                "probe_runs": a["runs"],
                "runs_per_request": round(a["runs"] / a["requests"], 3),
                "assert_keyerror_runs_per_request": round(a["asserts"] / a["requests"], 3),
                "kernel_run_cnt": a["krun"],
                "kernel_runs_per_request": round(a["krun"] / a["requests"], 3),
                "bpf_ns_per_run": round(a["kns"] / a["krun"], 1) if a["krun"] else None,
                "bpf_us_per_request": round(a["kns"] / a["requests"] / 1000, 3),
            })
        out["arms"][arm] = d
    u = [x["untraced"] for x in rounds]
    out["untraced_spread"] = round((max(u) - min(u)) / statistics.median(u), 3)
    return out


def rootfs_mounts(root):
    """bench/apps and tests/apps at the same paths inside root, and /proc;
    returns what was mounted (unmounted by the caller)."""
    done = []
    for target, args in ((str(root) + str(APPS), ["--bind", str(APPS)]),
                         (str(root) + str(TEST_APPS), ["--bind", str(TEST_APPS)]),
                         (str(root) + "/proc", ["-t", "proc", "proc"])):
        if os.path.ismount(target):
            continue
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount"] + args + [target], check=True)
        done.append(target)
    return done


def default_arm(py):
    """The probe -P auto takes on a distro interpreter: the watch trigger
    from 3.14, the LOAD_ASSERTION_ERROR handler before."""
    return "watch" if py >= "python3.14" else "assert"


def bench_distro(probe_flag):
    """One row per distro interpreter: the default trigger's runs per healthy
    request (the figure that must be 0), its throughput ratio in interleaved
    rounds, attach latency, and the raise probe's runs per request."""
    out = {}
    for suite, py in DISTRO:
        root = ROOTFS / suite
        name = f"{suite}-{py}"
        if not (root / "usr" / "bin" / py).exists():
            out[name] = {"skipped": f"{root}/usr/bin/{py} missing (scripts/rootfs.sh builds it)"}
            log(f"  {name}: SKIPPED: {out[name]['skipped']}")
            continue
        mounted = rootfs_mounts(root)
        s = Server("healthy_starlette", f"distro-{name}", root=root, python=f"/usr/bin/{py}")
        arm = default_arm(py)
        try:
            s.wait_ready("/healthy")
            url = s.url + "/healthy"
            wrk(url, 1, CFG["http_conns"])  # warm up
            row = {"rounds": [], "arm": arm}
            agg = {"runs": 0, "krun": 0, "requests": 0}
            for r in range(CFG["http_rounds"]):
                pair = {}
                for a in (["untraced", arm] if r % 2 == 0 else [arm, "untraced"]):
                    tr = None
                    if a != "untraced":
                        tr = Tracer(s.pid, a, probe_flag)
                        row.setdefault("attach_ms", []).append(round(tr.wait_attached() * 1000, 1))
                        row["python"] = next((ATTACHED_RE.search(l).group(2) for _, l in tr.lines
                                              if ATTACHED_RE.search(l)), None)
                        s0 = tr.probe_stats()
                    w = wrk(url, CFG["http_secs"], CFG["http_conns"])
                    if w["non2xx"] or w["socket_errors"]:
                        raise BenchError(f"{name}: healthy endpoint failed: {w}")
                    if tr:
                        st, _, krun = stop_healthy(tr, s0, f"{name}: ")
                        agg["runs"] += st["runs"] or 0
                        agg["krun"] += krun
                        agg["requests"] += w["requests"]
                    pair["traced" if a != "untraced" else a] = w["rps"]
                row["rounds"].append(pair)
            ratios = [p["traced"] / p["untraced"] for p in row["rounds"]]
            row.update({
                "site": "watchpoint" if arm == "watch" else "LOAD_ASSERTION_ERROR",
                "runs_per_request": round(agg["runs"] / agg["requests"], 4),
                "kernel_runs_per_request": round(agg["krun"] / agg["requests"], 4),
                "ratio_median": round(statistics.median(ratios), 3),
                "attach_median_ms": round(statistics.median(row["attach_ms"]), 1),
            })
            tr = Tracer(s.pid, "raise", probe_flag)
            tr.wait_attached()
            w = wrk(url, CFG["http_secs"], CFG["http_conns"])
            st = tr.stop()
            row["raise_runs_per_request"] = round((st["runs"] or 0) / w["requests"], 3)
            out[name] = row
            log(f"  {name} ({row['python']}): {arm} on {row['site']}: "
                f"{row['runs_per_request']} runs/request (kernel "
                f"{row['kernel_runs_per_request']}), ratio {row['ratio_median']}, "
                f"attach {row['attach_median_ms']} ms; raise probe {row['raise_runs_per_request']} runs/request")
        finally:
            s.stop()
            for target in reversed(mounted):
                subprocess.run(["umount", "-l", target], check=False)
    return out


# the apps of tests/integration/test_watch.py, whose healthy requests raise in Python
WATCH_PYS = ["python3.14", "python3.15"]
WATCH_APPS = [("watch_fastapi", "FastAPI + SessionMiddleware, environ lookups", TEST_APPS),
              ("watch_starlette", "Starlette + BaseHTTPMiddleware + SessionMiddleware", TEST_APPS),
              # what an armed data breakpoint costs: copies of 64 KiB (rep movsb) per request
              ("big_body", "Starlette + SessionMiddleware, 64 KiB responses", APPS)]
WATCH_ARMS = ["untraced", "watch", "assert"]  # assert from 3.14: do_raise


def watch_healthy(s, name, probe_flag):
    """Interleaved rounds of WATCH_ARMS on s's /ok: per arm req/s, server CPU
    per request, probe runs per request (kernel run_cnt)."""
    url = s.url + "/ok"
    wrk(url, 1, CFG["http_conns"])  # warm up
    agg = new_agg(WATCH_ARMS)
    rounds = []
    for r in range(CFG["watch_rounds"]):
        rot = WATCH_ARMS[r % len(WATCH_ARMS):] + WATCH_ARMS[:r % len(WATCH_ARMS)]
        row = {}
        for arm in rot:
            w, ticks = healthy_arm(s, url, arm, CFG["watch_secs"], probe_flag, agg, f"{name}: ")
            row[arm] = {"rps": w["rps"], "cpu_us": ticks / CLK_TCK * 1e6 / w["requests"]}
        rounds.append(row)
    out = {"rounds": rounds, "arms": {}}
    base_cpu = agg["untraced"]["cpu_ticks"] / agg["untraced"]["requests"]
    for arm, a in agg.items():
        d = {"median_rps": round(statistics.median(x[arm]["rps"] for x in rounds), 1),
             "requests": a["requests"],
             "server_cpu_us_per_request": round(a["cpu_ticks"] / CLK_TCK * 1e6 / a["requests"], 1)}
        if arm != "untraced":
            d.update({
                "kernel_run_cnt": a["krun"],
                "runs_per_request": round(a["krun"] / a["requests"], 3),
                "bpf_ns_per_run": round(a["kns"] / a["krun"], 1) if a["krun"] else None,
                "ratio_median": round(statistics.median(x[arm]["rps"] / x["untraced"]["rps"]
                                                        for x in rounds), 3),
                # untraced/traced server CPU per request: 1.0 = no cost, 0.8 = 25% more CPU
                "cpu_ratio": round(base_cpu / (a["cpu_ticks"] / a["requests"]), 3),
            })
        out["arms"][arm] = d
    u = [x["untraced"]["rps"] for x in rounds]
    out["untraced_spread"] = round((max(u) - min(u)) / statistics.median(u), 3)
    return out


def bench_watch(probe_flag):
    """3.14 and 3.15 (sid, chroot), two apps whose healthy requests raise in
    Python: the watch trigger (-P auto) against do_raise (-P assert) and no
    tracer, interleaved; then a storm of failing requests under each."""
    out = {"healthy": {}, "storm": {}}
    root = ROOTFS / "sid"
    mounted = rootfs_mounts(root) if root.exists() else []
    try:
        for py in WATCH_PYS:
            if not (root / "usr" / "bin" / py).exists():
                out["healthy"][py] = {"skipped": f"{root}/usr/bin/{py} missing (scripts/rootfs.sh)"}
                continue
            for app, what, app_dir in WATCH_APPS:
                name = f"{py} {app}"
                s = Server(app, f"watch-{py}-{app}", root=root, python=f"/usr/bin/{py}",
                           app_dir=app_dir)
                try:
                    s.wait_ready("/ok")
                    d = watch_healthy(s, name, probe_flag)
                finally:
                    s.stop()
                d["app"] = what
                out["healthy"][name] = d
                w, r = d["arms"]["watch"], d["arms"]["assert"]
                log(f"  {name}: watch {w['runs_per_request']} runs/req, rps x{w['ratio_median']}, "
                    f"CPU x{w['cpu_ratio']}; do_raise {r['runs_per_request']} runs/req, rps "
                    f"x{r['ratio_median']}, CPU x{r['cpu_ratio']} (untraced spread "
                    f"{d['untraced_spread'] * 100:.1f}%)")
            out.setdefault("hits", {})[py] = {
                arm: bench_hits(arm, probe_flag, 0, python=f"/usr/bin/{py}", root=root)
                for arm in ("watch", "assert")}
            s = Server("storm_app", f"watch-storm-{py}", root=root, python=f"/usr/bin/{py}")
            try:
                s.wait_ready("/count")
                out["storm"][py] = {}
                for arm in ("watch", "assert"):
                    jpath = WORK / f"watch-storm-{py}-{arm}.jsonl"
                    jpath.unlink(missing_ok=True)
                    tr = Tracer(s.pid, arm, probe_flag, jpath)
                    tr.wait_attached()
                    # do_raise also runs for the re-raises of each escaping error: at the
                    # ns/run of its healthy runs; the watch trigger runs once per failure
                    healthy = out["healthy"].get(f"{py} watch_fastapi", {}).get("arms", {})
                    nonmatch = (healthy.get("assert") or {}).get("bpf_ns_per_run") if arm == "assert" else 0
                    st = storm_session(s, tr, jpath, nonmatch)
                    out["storm"][py][arm] = st
                    log(f"  storm {py} {arm}: {st['failures']} failures, {st['full_records']} full + "
                        f"{st['summarized']} summarized, {st['lost']} lost, exact {st['exact']}, "
                        f"{st['probe_runs']} runs, BPF {st['bpf_ns_per_hit']} ns/hit, tracer "
                        f"{st['tracer_ms_per_1000']} ms CPU per 1000 failures")
            finally:
                s.stop()
    finally:
        for target in reversed(mounted):
            subprocess.run(["umount", "-l", target], check=False)
    return out


class LoopReader:
    """raise_loop.py's batches: (end, raises, ns per raise)."""

    def __init__(self, proc):
        self.batches = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc):
        for raw in proc.stdout:
            parts = raw.split()
            if len(parts) == 3:
                with self.lock:
                    self.batches.append((float(parts[0]), int(parts[1]), float(parts[2])))

    def window(self, t0, t1):
        """Mean ns per raise over the batches entirely inside [t0, t1]."""
        with self.lock:
            inside = [(n, ns) for end, n, ns in self.batches if end - n * ns / 1e9 >= t0 and end <= t1]
        if not inside:
            raise BenchError("raise loop: no complete batch inside a window")
        return sum(n * ns for n, ns in inside) / sum(n for n, _ in inside), sum(n for n, _ in inside)


def bench_loop(arms, probe_flag):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = spawn(pin(0) + [PYTHON, str(APPS / "raise_loop.py")], stdout=subprocess.PIPE, env=env)
    try:
        reader = LoopReader(proc)
        time.sleep(1.0)  # warm up
        order = ["untraced"] + arms
        per = {a: [] for a in order}
        agg = {a: {"raises": 0, "runs": 0, "krun": 0, "kns": 0} for a in arms}
        for r in range(CFG["loop_rounds"]):
            rot = order[r % len(order):] + order[:r % len(order)]
            for arm in rot:
                tr = None
                if arm != "untraced":
                    tr = Tracer(proc.pid, arm, probe_flag)
                    tr.wait_attached()
                    time.sleep(0.1)  # the batch running at attach time is discarded anyway
                    s0 = tr.probe_stats()
                t0 = time.monotonic()
                time.sleep(CFG["loop_secs"])
                t1 = time.monotonic()
                ns, raises = reader.window(t0, t1)
                per[arm].append(ns)
                if tr:
                    kns, krun = delta(s0, tr.probe_stats())
                    s = tr.stop()
                    a = agg[arm]
                    a["raises"] += raises
                    a["krun"] += krun
                    a["kns"] += kns
            log("  loop round %d: %s" % (r + 1, ", ".join(f"{a} {per[a][-1]:.0f} ns" for a in order)))
    finally:
        stop(proc)
    out = {"arms": {}}
    base = statistics.median(per["untraced"])
    for arm in order:
        d = {"ns_per_raise": [round(x, 1) for x in per[arm]],
             "median_ns_per_raise": round(statistics.median(per[arm]), 1)}
        if arm != "untraced":
            a = agg[arm]
            d.update({
                "ratio": round(statistics.median(per[arm]) / base, 3),
                "added_ns_per_raise": round(statistics.median(per[arm]) - base, 1),
                "kernel_runs_per_raise": round(a["krun"] / a["raises"], 3) if a["raises"] else None,
                "bpf_ns_per_run": round(a["kns"] / a["krun"], 1) if a["krun"] else None,
            })
            if a["krun"]:
                # what the uprobe costs besides the program: trap, return, bookkeeping
                d["trap_ns_per_run"] = round(d["added_ns_per_raise"] - d["bpf_ns_per_run"], 1)
        out["arms"][arm] = d
    return out


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


def server_count(server):
    status, body = http_get(server.url + "/count")
    if status != 200:
        raise BenchError(f"/count: HTTP {status}")
    return int(body)


def file_records(path):
    """(full records, summary records, hits the summaries stand for) in a -j file."""
    full = sums = counted = 0
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            if "summary" in rec:
                sums += 1
                counted += rec["summary"]["count"]
            else:
                full += 1
    return full, sums, counted


def settle(server, n0, json_path, expect_more=True):
    """Wait until the app's failure counter is still and the tracer's file
    has stopped growing (bounded); returns failures since n0."""
    time.sleep(0.5)
    failures = server_count(server) - n0
    last, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        n = count_lines(json_path)
        if n >= failures:
            break
        if n != last:
            last, stable_since = n, time.monotonic()
        elif time.monotonic() - stable_since > 1.0:
            break
        time.sleep(0.1)
    return failures


def storm_session(server, tr, jpath, nonmatch_ns):
    """wrk on /fail with tracer tr attached, then stop it: failures (the
    app's counter) against full records + the hits summaries stand for +
    lost; tracer CPU from the storm's start until its records are written."""
    n0 = server_count(server)
    s0 = tr.probe_stats()
    c0 = cpu_ticks(tr.pid)
    sc0 = cpu_ticks(server.pid)
    t0 = time.monotonic()
    w = wrk(server.url + "/fail", CFG["storm_secs"], CFG["storm_conns"])
    t1 = time.monotonic()
    sc1 = cpu_ticks(server.pid)
    storm_mem = mem_kb(tr.pid)
    failures = settle(server, n0, jpath)
    c1 = cpu_ticks(tr.pid)
    kns, krun = delta(s0, tr.probe_stats())
    s = tr.stop()
    full, sums, counted = file_records(jpath)
    lost = s["lost"] or 0
    ms = (c1 - c0) / CLK_TCK * 1000
    res = {
        "secs": CFG["storm_secs"], "connections": CFG["storm_conns"],
        "failures": failures, "failures_per_sec": round(failures / (t1 - t0), 1),
        "wrk_requests": w["requests"], "wrk_500s": w["non2xx"], "wrk_socket_errors": w["socket_errors"],
        "records": full + sums, "full_records": full, "summary_records": sums, "summarized": counted,
        "tracer_records": s["records"], "lost": lost,
        "exact": full + counted + lost == failures,
        "probe_runs": s["runs"], "kernel_run_cnt": krun, "bpf_ns_total": kns,
        "server_cpu_pct": round((sc1 - sc0) / CLK_TCK / (t1 - t0) * 100, 1),
        "server_cpu_us_per_failure": round((sc1 - sc0) / CLK_TCK * 1e6 / failures, 1) if failures else None,
        "tracer_cpu_pct": round(ms / 1000 / (t1 - t0) * 100, 2),
        "tracer_ms_per_1000": round(ms / failures * 1000, 1) if failures else None,
        "tracer_rss_kb": storm_mem["VmRSS"], "tracer_hwm_kb": storm_mem["VmHWM"],
    }
    res.update(hit_cost(kns, krun, failures, nonmatch_ns))
    return res


def bench_storm(server, arm, probe_flag, nonmatch_ns):
    """Idle, then a storm of failing requests (one tracer session), then the
    deep-stack phase (a second session): exact accounting per session."""
    res = {}
    # --- idle + storm ---
    jpath = WORK / f"storm-{arm}.jsonl"
    jpath.unlink(missing_ok=True)
    tr = Tracer(server.pid, arm, probe_flag, jpath)
    tr.wait_attached()
    c0 = cpu_ticks(tr.pid)
    time.sleep(CFG["idle_secs"])
    c1 = cpu_ticks(tr.pid)
    idle_mem = mem_kb(tr.pid)
    res["idle"] = {"secs": CFG["idle_secs"], "cpu_pct": round((c1 - c0) / CLK_TCK / CFG["idle_secs"] * 100, 2),
                   "rss_kb": idle_mem["VmRSS"], "hwm_kb": idle_mem["VmHWM"]}
    res["storm"] = storm_session(server, tr, jpath, nonmatch_ns)
    log(f"  storm {arm}: {res['storm']['failures']} failures, {res['storm']['full_records']} full records "
        f"+ {res['storm']['summary_records']} summaries for {res['storm']['summarized']}, "
        f"{res['storm']['lost']} lost, {res['storm']['failures_per_sec']}/s, tracer "
        f"{res['storm']['tracer_ms_per_1000']} ms CPU per 1000 failures")
    # the same storm with a full record per hit (--record-rate 0)
    jpath = WORK / f"storm-full-{arm}.jsonl"
    jpath.unlink(missing_ok=True)
    tr = Tracer(server.pid, arm, probe_flag, jpath, extra=["--record-rate", "0"])
    tr.wait_attached()
    res["storm_full"] = storm_session(server, tr, jpath, nonmatch_ns)
    log(f"  storm {arm}, --record-rate 0: {res['storm_full']['failures']} failures, "
        f"{res['storm_full']['full_records']} records, {res['storm_full']['lost']} lost, tracer "
        f"{res['storm_full']['tracer_ms_per_1000']} ms CPU per 1000 failures")
    # --- deep stack ---
    jpath = WORK / f"deep-{arm}.jsonl"
    jpath.unlink(missing_ok=True)
    tr = Tracer(server.pid, arm, probe_flag, jpath)
    tr.wait_attached()
    n0 = server_count(server)
    s0 = tr.probe_stats()
    w = wrk(server.url + "/deep", CFG["deep_secs"], CFG["deep_conns"])
    failures = settle(server, n0, jpath)
    kns, krun = delta(s0, tr.probe_stats())
    s = tr.stop()
    frames = []
    with open(jpath) as f:
        for line in f:
            rec = json.loads(line)
            if "summary" not in rec:
                frames.append((len(rec.get("stack") or []), bool(rec.get("stack_truncated"))))
    _, sums, counted = file_records(jpath)
    res["deep"] = {
        "failures": failures, "records": len(frames), "summary_records": sums, "summarized": counted,
        "lost": s["lost"] or 0,
        "exact": len(frames) + counted + (s["lost"] or 0) == failures,
        "frames_min": min((f for f, _ in frames), default=0),
        "frames_max": max((f for f, _ in frames), default=0),
        "all_truncated": all(t for _, t in frames) if frames else False,
        "probe_runs": s["runs"], "kernel_run_cnt": krun, "bpf_ns_total": kns,
    }
    res["deep"].update(hit_cost(kns, krun, failures, nonmatch_ns))
    log(f"  deep {arm}: {failures} failures, {len(frames)} records ({res['deep']['frames_min']}"
        f"-{res['deep']['frames_max']} frames), BPF {res['deep']['bpf_ns_per_hit']} ns/hit")
    return res


def bench_responsive(server, probe_flag):
    """During a storm (every request fails, wrk in the background): how long
    SIGHUP (records file reopened), SIGTERM (exit) and -d (exit after the
    duration) take to be handled. The event loop drains at most 256 records
    per pass, then looks at signals, exits and the deadline."""
    res = {}
    jpath = WORK / "responsive.jsonl"
    jpath.unlink(missing_ok=True)
    secs = CFG["storm_secs"]
    argv = pin(1) + ["wrk", "-t1", f"-c{CFG['storm_conns']}", f"-d{secs + 10}s", "--timeout", "10s",
                     server.url + "/fail"]
    bg = spawn(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        tr = Tracer(server.pid, "assert", probe_flag, jpath, extra=["-v"])
        tr.wait_attached()
        time.sleep(2.0)
        sent = time.monotonic()
        tr.proc.send_signal(signal.SIGHUP)
        deadline = sent + 10
        hup = None
        while time.monotonic() < deadline and hup is None:
            with tr.cond:
                hup = next((t for t, l in tr.lines if "SIGHUP: reopened" in l and t >= sent), None)
                if hup is None:
                    tr.cond.wait(0.01)
        res["sighup_ms"] = round((hup - sent) * 1000, 1) if hup else None
        sent = time.monotonic()
        tr.proc.send_signal(signal.SIGTERM)
        tr.proc.wait(timeout=30)
        res["sigterm_exit_ms"] = round((time.monotonic() - sent) * 1000, 1)
        PROCS.remove(tr.proc)
        tr.reader.join(timeout=5)
        tr = Tracer(server.pid, "assert", probe_flag, jpath, extra=["-d", "2"])
        tr.wait_attached()
        att = next(t for t, l in tr.lines if ATTACHED_RE.search(l))
        tr.proc.wait(timeout=30)
        res["duration_overrun_ms"] = round((time.monotonic() - att - 2.0) * 1000, 1)
        PROCS.remove(tr.proc)
    finally:
        stop(bg, signal.SIGTERM)
    log(f"  responsiveness during a storm: SIGHUP {res['sighup_ms']} ms, SIGTERM -> exit "
        f"{res['sigterm_exit_ms']} ms, -d 2 ended {res['duration_overrun_ms']} ms late")
    return res


def bench_hits(arm, probe_flag, foreign_ns, python=PYTHON, root=None):
    """hit_loop.py: RATE session failures a second from DEPTH frames down,
    no server. Every probe run in that process is a hit, so BPF ns per hit
    is run_time / run_cnt; runs from other processes mapping the same
    interpreter (kernel run_cnt - the tracer's own count) are subtracted at
    foreign_ns, the raise loop's cost of a non-matching run. root: python
    runs in that rootfs (mounted by the caller)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = {}
    for depth in CFG["hit_depths"]:
        proc = spawn(pin(0) + (["chroot", str(root)] if root else []) +
                     [python, str(APPS / "hit_loop.py"), str(depth), str(CFG["hit_rate"])],
                     env=env, stdin=subprocess.PIPE)
        jpath = WORK / f"hits-{arm}-{os.path.basename(python)}-{depth}.jsonl"
        jpath.unlink(missing_ok=True)
        try:
            time.sleep(0.3)
            tr = Tracer(proc.pid, arm, probe_flag, jpath, extra=["--record-rate", "0"])
            tr.wait_attached()
            s0 = tr.probe_stats()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            time.sleep(CFG["hit_secs"])
            os.kill(proc.pid, signal.SIGSTOP)
            kns, krun = delta(s0, tr.probe_stats())
            s = tr.stop()
        finally:
            stop(proc, signal.SIGKILL)
        frames = []
        with open(jpath) as f:
            for line in f:
                rec = json.loads(line)
                frames.append(len(rec.get("stack") or []))
        foreign = max(krun - (s["runs"] or 0), 0)
        hits = krun - foreign
        d = {"depth": depth, "frames": max(frames, default=0), "records": len(frames),
             "lost": s["lost"] or 0, "probe_runs": s["runs"], "kernel_run_cnt": krun,
             "foreign_runs": foreign, "bpf_ns_total": kns,
             "bpf_ns_per_hit": round((kns - foreign * (foreign_ns or 0)) / hits, 1) if hits > 0 else None}
        out[str(depth)] = d
        log(f"  hits {arm} depth {depth}: {d['frames']} frames, {hits} hits, BPF {d['bpf_ns_per_hit']} ns/hit")
    return out


def tracer_map(pid, name):
    """The contents of the tracer's BPF map `name` (bpftool -j dump), found
    through the tracer's own descriptors."""
    for info in bpf_fdinfos(pid, "bpf-map"):
        mid = info["map_id"].strip()
        r = subprocess.run(["bpftool", "map", "show", "id", mid, "-j"], capture_output=True, text=True, timeout=10)
        if r.returncode == 0 and json.loads(r.stdout).get("name") == name:
            r = subprocess.run(["bpftool", "map", "dump", "id", mid, "-j"], capture_output=True, text=True, timeout=10)
            return json.loads(r.stdout)
    raise BenchError(f"tracer {pid} has no BPF map {name}")


def percpu_sums(dump):
    """{key: sum over CPUs} of a per-CPU array dump (bpftool -j, with or without BTF)."""
    def num(v):
        return v if isinstance(v, int) else int.from_bytes(bytes(int(x, 16) for x in v), "little")
    out = {}
    for e in dump:
        key = e["key"] if isinstance(e["key"], int) else num(e["key"])
        out[key] = sum(num(c["value"]) for c in e["values"])
    return out


def bench_profile():
    """Where a captured hit's BPF time goes: the hit loop (raise probe,
    depths as in `hits`) traced by the profile build, which sums ns per
    stage of capture in a map (two clock reads per stage, so its total is a
    little above the plain build's)."""
    if not PROFILER.exists():
        log(f"  stage profile: {PROFILER} not built (make bench builds it): skipped")
        return None
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = {}
    for depth in CFG["hit_depths"]:
        proc = spawn(pin(0) + [PYTHON, str(APPS / "hit_loop.py"), str(depth), str(CFG["hit_rate"])],
                     env=env, stdin=subprocess.PIPE)
        try:
            time.sleep(0.3)
            tr = Tracer(proc.pid, "raise", True, extra=[], binary=PROFILER)
            tr.wait_attached()
            proc.stdin.write(b"go\n")
            proc.stdin.flush()
            time.sleep(CFG["hit_secs"])
            os.kill(proc.pid, signal.SIGSTOP)
            sums = percpu_sums(tracer_map(tr.pid, "profile"))
            tr.stop()
        finally:
            stop(proc, signal.SIGKILL)
        hits = sums.get(len(PROF_STAGES), 0)
        d = {"depth": depth, "hits": hits}
        d.update({st: round(sums.get(i, 0) / hits, 1) if hits else None for i, st in enumerate(PROF_STAGES)})
        d["total"] = round(sum(d[st] or 0 for st in PROF_STAGES), 1)
        out[str(depth)] = d
        log(f"  stage profile depth {depth}: " + ", ".join(f"{st} {d[st]}" for st in PROF_STAGES) + f" ns (total {d['total']})")
    return out


EXEC_LOOP = "i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done"


def exec_loop(n):
    """Wall seconds of n /bin/true execs from a shell loop on CPU 0."""
    t0 = time.monotonic()
    subprocess.run(pin(0) + ["/bin/sh", "-c", EXEC_LOOP % n], check=True, timeout=300)
    return time.monotonic() - t0


def discovery_tracer(port, jpath):
    """A tracer without -p, metrics on port; returns once it watches."""
    tr = spawn([str(TRACER), "-q", "-j", str(jpath), "-m", f"127.0.0.1:{port}"],
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    line = ""
    deadline = time.monotonic() + 30
    while "watching for ASGI servers" not in line:
        line = tr.stderr.readline().decode()
        if (not line and tr.poll() is not None) or time.monotonic() > deadline:
            stop(tr, signal.SIGINT)
            raise BenchError("discovery tracer did not start: rc=%s" % tr.returncode)
    threading.Thread(target=lambda: [None for _ in tr.stderr], daemon=True).start()
    return tr


def bench_execs():
    """Node mode (no -p): a shell loop of unrelated execs with no tracer,
    then with a discovery-mode tracer running, interleaved rounds: the
    loop's wall time, the tracer's CPU per exec, and the execs that reached
    user space (sessiontrace_exec_events_total: what the BPF exec filter
    passed)."""
    n, rounds = CFG["exec_loop"], CFG["exec_rounds"]
    port = free_port()
    jpath = WORK / "execs.jsonl"

    def execs():
        text = http_get(f"http://127.0.0.1:{port}/metrics")[1].decode()
        return int(re.search(r"^sessiontrace_exec_events_total (\d+)$", text, re.M).group(1))
    out = {"execs_per_round": n, "rounds": rounds, "untraced_s": [], "traced_s": [],
           "tracer_cpu_ms": [], "exec_events": []}
    for _ in range(rounds):
        out["untraced_s"].append(round(exec_loop(n), 3))
        jpath.unlink(missing_ok=True)
        tr = discovery_tracer(port, jpath)
        try:
            time.sleep(0.5)
            e0, c0 = execs(), tree_ticks(tr.pid)
            out["traced_s"].append(round(exec_loop(n), 3))
            time.sleep(0.3)
            out["tracer_cpu_ms"].append((tree_ticks(tr.pid) - c0) / CLK_TCK * 1000)
            out["exec_events"].append(execs() - e0)
        finally:
            stop(tr, signal.SIGINT)
    cpu = statistics.median(out["tracer_cpu_ms"])
    out["tracer_us_per_exec"] = round(cpu * 1000 / n, 2)
    out["untraced_median_s"] = statistics.median(out["untraced_s"])
    out["traced_median_s"] = statistics.median(out["traced_s"])
    log(f"  exec loop x{n}: untraced {out['untraced_median_s']} s, traced {out['traced_median_s']} s, "
        f"tracer {out['tracer_us_per_exec']} us CPU per exec, exec events to user space {out['exec_events']}")
    return out


def bench_discovery():
    """Node mode's discovery: (1) the tracer's CPU per Python process started
    that never serves, short-lived (python3 -c pass) and living through the
    whole schedule of checks (python3 -c 'sleep 10'); (2) the time from a
    server's listen() (the port accepts) to its `attached` line, for
    `python main.py` (tests/apps/run_main.py) started after the tracer."""
    port = free_port()
    jpath = WORK / "discovery.jsonl"
    jpath.unlink(missing_ok=True)
    out = {}
    tr = spawn([str(TRACER), "-q", "-j", str(jpath), "-m", f"127.0.0.1:{port}"],
               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tr.is_tracer = True
    lines = []
    cond = threading.Condition()

    def read():
        for raw in tr.stderr:
            with cond:
                lines.append((time.monotonic(), raw.decode(errors="replace").rstrip("\n")))
                cond.notify_all()
    threading.Thread(target=read, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        with cond:
            while not any("watching for ASGI servers" in l for _, l in lines):
                if time.monotonic() > deadline or tr.poll() is not None:
                    raise BenchError("discovery tracer did not start")
                cond.wait(0.2)
        time.sleep(0.5)
        # (1) short-lived Python processes
        n = CFG["disc_short"]
        c0 = cpu_ns(tr.pid)
        for _ in range(n):
            subprocess.run([PYTHON, "-c", "pass"], check=True, timeout=30)
        time.sleep(1.0)
        out["short_us_per_process"] = round((cpu_ns(tr.pid) - c0) / 1000 / n, 1)
        # living longer than the schedule of checks (8 s)
        m = CFG["disc_long"]
        c0 = cpu_ns(tr.pid)
        procs = [spawn([PYTHON, "-c", "import starlette.applications, time; time.sleep(10)"])
                 for _ in range(m)]
        for p in procs:
            p.wait(timeout=60)
            PROCS.remove(p)
        time.sleep(0.5)
        out["long_us_per_process"] = round((cpu_ns(tr.pid) - c0) / 1000 / m, 1)
        log(f"  discovery: tracer CPU {out['short_us_per_process']} us per short-lived Python "
            f"process ({n}), {out['long_us_per_process']} us per one that lives 10 s and "
            f"imports starlette but never listens ({m})")
        # (2) listen -> attached
        def listen_to_attached():
            sport = free_port()
            t0 = len(lines)
            srv = spawn(pin(0) + [PYTHON, str(TEST_APPS / "run_main.py"), str(sport)],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            listening = None
            deadline = time.monotonic() + 30
            while listening is None and time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", sport), timeout=0.5).close()
                    listening = time.monotonic()
                except OSError:
                    time.sleep(0.002)
            attached = None
            with cond:
                while attached is None and time.monotonic() < deadline:
                    attached = next((t for t, l in lines[t0:]
                                     if l.startswith(f"attached pid={srv.pid} ")), None)
                    if attached is None:
                        cond.wait(0.05)
            stop(srv)
            if listening is None or attached is None:
                raise BenchError(f"run_main.py on port {sport}: listening {listening}, "
                                 f"attached {attached}")
            return round((attached - listening) * 1000, 1)
        waits = [listen_to_attached() for _ in range(CFG["disc_servers"])]
        out["listen_to_attached_ms"] = waits
        out["listen_to_attached_median_ms"] = statistics.median(waits)
        log(f"  discovery: listen -> attached {waits} ms (median "
            f"{out['listen_to_attached_median_ms']} ms)")
        # (3) a flood: N bogus interpreters (uid nobody) at once, then a server
        n = CFG["flood"]
        where = Path(tempfile.mkdtemp(prefix="st-flood-"))  # nobody runs it
        os.chmod(where, 0o755)
        bogus = where / "python3.12"
        subprocess.run(["cc", "-O2", "-rdynamic", "-o", str(bogus),
                        str(TEST_APPS / "bogus_python.c")], check=True, timeout=120)
        c0, p0 = cpu_ns(tr.pid), cpu_ns(tr.pid, children=False)
        flood = spawn([str(bogus), str(n)])
        try:
            deadline = time.monotonic() + 60
            while len(children_of(flood.pid)) < n and time.monotonic() < deadline:
                time.sleep(0.01)
            if len(children_of(flood.pid)) < n:
                raise BenchError(f"the flood started {len(children_of(flood.pid))} of {n}")
            out["flood_attach_ms"] = listen_to_attached()
            time.sleep(9.0)  # the schedule of checks of the flood's first ones (8 s)
            out["flood_parent_cpu_ms"] = round((cpu_ns(tr.pid, children=False) - p0) / 1e6)
            out["flood_all_cpu_ms"] = round((cpu_ns(tr.pid) - c0) / 1e6)
        finally:
            kids = children_of(flood.pid)
            os.killpg(flood.pid, signal.SIGKILL)
            stop(flood)
            deadline = time.monotonic() + 30  # reaped: no zombie left for what comes next
            while any(os.path.exists(f"/proc/{k}") for k in kids) and time.monotonic() < deadline:
                time.sleep(0.05)
            shutil.rmtree(where)
        log(f"  discovery: {n} bogus interpreters at once, then a server: listen -> attached "
            f"{out['flood_attach_ms']} ms; the tracer's CPU over the flood's 10 s: parent "
            f"{out['flood_parent_cpu_ms']} ms, with the decoding child "
            f"{out['flood_all_cpu_ms']} ms")
    finally:
        stop(tr, signal.SIGINT)
    return out


def hit_cost(kns, krun, hits, nonmatch_ns):
    """BPF ns per captured hit: the phase's BPF time minus its non-matching
    runs (kernel runs - hits) at the non-matching cost measured on healthy
    load for the same probe."""
    if not hits or not krun:
        return {"bpf_ns_per_hit": None}
    other = max(krun - hits, 0)
    return {"hits": hits, "nonmatching_runs": other,
            "bpf_ns_per_hit": round((kns - other * (nonmatch_ns or 0)) / hits, 1)}


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    git = lambda *a: subprocess.run(["git", "-C", str(REPO), *a], capture_output=True,
                                    text=True).stdout.strip()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cpu": model, "cores": CPUS, "kernel": os.uname().release,
        "loadavg_start": open("/proc/loadavg").read().split()[:3],
        "commit": git("rev-parse", "--short", "HEAD") + (" (dirty)" if git("status", "--porcelain", "--untracked-files=no") else ""),
        "python": subprocess.run([PYTHON, "-c", "import platform,fastapi,starlette,uvicorn;"
                                  "print(platform.python_version(),fastapi.__version__,starlette.__version__,uvicorn.__version__)"],
                                 capture_output=True, text=True).stdout.split(),
    }


def fmt(x, spec=".0f"):
    return "-" if x is None else format(x, spec)


def verdict(ok):
    return "PASS" if ok else "MISS"


def report(R):
    m = R["machine"]
    L = []
    p = L.append
    p("")
    p("sessiontrace benchmarks  %s" % m["date"])
    p("machine: %s, %d cores, kernel %s, load avg %s at start, %s at end; commit %s" % (
        m["cpu"], m["cores"], m["kernel"], " ".join(m["loadavg_start"]), " ".join(m["loadavg_end"]), m["commit"]))
    py = m["python"] + ["?"] * 4
    p("servers: python %s, FastAPI %s, Starlette %s, uvicorn %s (uvloop, httptools, --no-access-log), "
      "1 worker on CPU 0, wrk on CPU 1; kernel.bpf_stats_enabled=1 throughout" % tuple(py[:4]))
    for arm, why in R.get("dropped", {}).items():
        p(f"probe {arm}: not measured: {why}")
    arms = R["arms"]

    p("")
    p("start -> attached (%d spawns)      median      max" % CFG["attach_runs"])
    for arm in arms:
        a = R["attach"][arm]
        p(f"  {arm:<30}{a['median_ms']:>7.1f} ms{a['max_ms']:>7.1f} ms")

    if R.get("responsive"):
        r = R["responsive"]
        p("")
        p("event loop during a storm (assert probe, every request failing): SIGHUP handled in %s ms, "
          "SIGTERM -> exit %s ms, -d 2 exited %s ms after its deadline" % (
              r["sighup_ms"], r["sigterm_exit_ms"], r["duration_overrun_ms"]))
    if R.get("distro"):
        p("")
        p("distro interpreters (chroot): healthy Starlette endpoint + SessionMiddleware, asyncio, uvicorn's")
        p("auto HTTP (httptools where the distro's build imports: trixie, sid 3.14; else h11),")
        p("%d interleaved rounds x %d s untraced / the default trigger (-P auto)" % (
            CFG["http_rounds"], CFG["http_secs"]))
        p("  interpreter        python    default trigger        runs/req (kernel)  traced/untraced"
          "  attach ms  raise probe runs/req")
        for name, d in R["distro"].items():
            if "skipped" in d:
                p(f"  {name:<19}SKIPPED: {d['skipped']}")
                continue
            runs = f"{d['runs_per_request']:.3f} ({d['kernel_runs_per_request']:.3f})"
            p(f"  {name:<19}{d['python'] or '?':<10}{d['site']:<23}{runs:<19}{d['ratio_median']:>15.3f}"
              f"{d['attach_median_ms']:>11.1f}{d['raise_runs_per_request']:>22.2f}")

    wt = R.get("watch")
    if wt:
        p("")
        p("3.14/3.15 (sid, chroot): apps whose healthy requests raise in Python; %d interleaved rounds x"
          " %d s per arm, server on CPU 0; watch = -P auto, assert = do_raise" % (
              CFG["watch_rounds"], CFG["watch_secs"]))
        p("  interpreter, app                 arm        req/s  runs/req (kernel)  rps traced/untraced"
          "  server us CPU/req  CPU untraced/traced")
        for name, d in wt["healthy"].items():
            if "skipped" in d:
                p(f"  {name:<33}SKIPPED: {d['skipped']}")
                continue
            for arm, a in d["arms"].items():
                extra = "" if arm == "untraced" else (
                    f"{a['runs_per_request']:>19.3f}{a['ratio_median']:>21.3f}")
                cpu = f"{a['server_cpu_us_per_request']:>19.1f}"
                if arm == "untraced":
                    p(f"  {name:<33}{arm:<9}{a['median_rps']:>7.0f}{'':>40}{cpu}"
                      f"   (untraced spread {d['untraced_spread'] * 100:.1f}%)")
                else:
                    p(f"  {'':<33}{arm:<9}{a['median_rps']:>7.0f}{extra}{cpu}{a['cpu_ratio']:>21.3f}")
        p("  captured hits (hit loop, %d failures/s, no server): BPF ns per hit" % CFG["hit_rate"])
        for py, by_arm in wt.get("hits", {}).items():
            for arm, depths in by_arm.items():
                p(f"  {py:<13}{arm:<9}" + "  ".join(
                    f"{d['frames']} frames: {fmt(d['bpf_ns_per_hit'])} ns" for d in depths.values()))
        p("  storm (storm_app, every request fails, wrk -c%d, %d s):" % (CFG["storm_conns"], CFG["storm_secs"]))
        p("  interpreter  arm      failures   runs  records+summarized  lost  exact  BPF ns/hit*"
          "  tracer CPU ms/1000  server us CPU/failure")
        for py, by_arm in wt["storm"].items():
            for arm, st in by_arm.items():
                p(f"  {py:<13}{arm:<9}{st['failures']:>8}{st['probe_runs']:>7}"
                  f"{st['full_records'] + st['summarized']:>20}{st['lost']:>6}"
                  f"{'yes' if st['exact'] else 'NO':>7}{fmt(st['bpf_ns_per_hit']):>13}"
                  f"{fmt(st['tracer_ms_per_1000'], '.1f'):>20}{fmt(st['server_cpu_us_per_failure'], '.1f'):>23}")

    h = R["http"]
    p("")
    p("healthy FastAPI endpoint + SessionMiddleware: wrk -c%d, %d interleaved rounds x %d s per arm" % (
        CFG["http_conns"], CFG["http_rounds"], CFG["http_secs"]))
    p("  arm       req/s (median)  traced/untraced (min-max)  probe runs/req  of which Assert/KeyError"
      "  BPF ns/run  BPF us/req")
    for arm, d in h["arms"].items():
        if arm == "untraced":
            p(f"  {arm:<10}{d['median_rps']:>14.0f}")
            continue
        ratio = f"{d['ratio_median']:.3f} ({d['ratio_min']:.3f}-{d['ratio_max']:.3f})"
        bns = "-" if d["bpf_ns_per_run"] is None else f"{d['bpf_ns_per_run']:.0f}"
        p(f"  {arm:<10}{d['median_rps']:>14.0f}  {ratio:<25}{d['runs_per_request']:>16.2f}"
          f"{d['assert_keyerror_runs_per_request']:>26.2f}{bns:>12}{d['bpf_us_per_request']:>12.2f}")
    p("  untraced spread across rounds: %.1f%%; kernel run_cnt per request (all processes mapping python3.11): %s" % (
        h["untraced_spread"] * 100, ", ".join(f"{a} {h['arms'][a]['kernel_runs_per_request']:.2f}" for a in arms)))
    if R.get("estimate"):
        e = R["estimate"]
        p("  raise probe, expected from the parts: %.2f runs x %.0f ns trap + %.2f us BPF = %.2f us per request "
          "= %.1f%% of %.1f us (untraced CPU per request)" % (
              e["runs_per_request"], e["trap_ns_per_run"], e["bpf_us_per_request"], e["us_per_request"],
              e["pct"], e["untraced_us_per_request"]))

    lp = R["loop"]
    p("")
    p("raise/catch loop (ValueError), %d interleaved rounds x %d s per arm" % (CFG["loop_rounds"], CFG["loop_secs"]))
    for arm, d in lp["arms"].items():
        extra = ""
        if arm != "untraced":
            bns = "-" if d["bpf_ns_per_run"] is None else f"{d['bpf_ns_per_run']:.0f}"
            extra = f"   x{d['ratio']:.2f}  +{d['added_ns_per_raise']:.0f} ns/raise  BPF ns/run {bns}"
            if "trap_ns_per_run" in d:
                extra += f"  uprobe trap ns/run {d['trap_ns_per_run']:.0f}"
        p(f"  {arm:<10}{d['median_ns_per_raise']:>8.0f} ns/raise{extra}")

    p("")
    p("captured hits: hit loop, %d session failures/s from a given Python depth, no server" % CFG["hit_rate"])
    p("  arm       depth  frames copied  hits   records  lost  BPF ns/hit")
    for arm in arms:
        for d in R["hits"][arm].values():
            p(f"  {arm:<10}{d['depth']:>5}{d['frames']:>15}{d['kernel_run_cnt'] - d['foreign_runs']:>6}"
              f"{d['records']:>10}{d['lost']:>6}{fmt(d['bpf_ns_per_hit']):>12}")

    p("")
    p("storm: GET /fail, every request fails, wrk -c%d, %d s; deep: GET /deep (> 64 frames), wrk -c%d, %d s" % (
        CFG["storm_conns"], CFG["storm_secs"], CFG["deep_conns"], CFG["deep_secs"]))
    p("  arm     record-rate  failures  fail/s  full records  summaries (hits)  lost  exact  "
      "tracer CPU ms/1000  BPF ns/hit*")
    for arm in arms:
        for rate, key in (("100 (default)", "storm"), ("0", "storm_full")):
            s = R["storm"][arm][key]
            p(f"  {arm:<8}{rate:>12}{s['failures']:>10}{s['failures_per_sec']:>8.0f}{s['full_records']:>14}"
              f"{s['summary_records']:>6} ({s['summarized']:>7}){s['lost']:>6}{'yes' if s['exact'] else 'NO':>7}"
              f"{fmt(s['tracer_ms_per_1000'], '.1f'):>20}{fmt(s['bpf_ns_per_hit']):>13}")
    p("  deep:   failures  records  frames  exact  BPF ns/hit*")
    for arm in arms:
        d = R["storm"][arm]["deep"]
        p(f"  {arm:<8}{d['failures']:>9}{d['records']:>9}{d['frames_max']:>8}{'yes' if d['exact'] else 'NO':>7}"
          f"{fmt(d['bpf_ns_per_hit']):>13}")
    p("  failures: the app's counter, before each raise; wrk saw %s responses 500 (requests in flight at the end "
      "are not counted by wrk)" % ", ".join(f"{R['storm'][a]['storm']['wrk_500s']} ({a})" for a in arms))
    p("  * BPF time of the phase minus its non-matching runs at the healthy-load ns/run, per failure")

    ex = R.get("execs")
    if ex:
        p("")
        p("node mode (no -p): %d execs of /bin/true from a shell loop, %d interleaved rounds" %
          (ex["execs_per_round"], ex["rounds"]))
        p(f"  loop wall time: untraced {ex['untraced_median_s']} s (no tracer), traced "
          f"{ex['traced_median_s']} s; tracer CPU {ex['tracer_us_per_exec']} us per exec; execs that "
          f"reached user space per round: {ex['exec_events']}")

    dc = R.get("discovery")
    if dc:
        p("")
        p("node mode, Python processes (no -p): tracer CPU per process started that never "
          "serves: %s us (python3 -c pass, x%d), %s us (lives 10 s, imports starlette, checked "
          "on the whole schedule, x%d); a server's listen -> attached: median %s ms (%s)" % (
              dc["short_us_per_process"], CFG["disc_short"], dc["long_us_per_process"],
              CFG["disc_long"], dc["listen_to_attached_median_ms"],
              ", ".join(str(x) for x in dc["listen_to_attached_ms"])))
        p("node mode, a flood: %d processes named python3.12 owned by nobody, exporting "
          "_PyRuntime over garbage and listening (tests/apps/bogus_python.c), exec'd at once, "
          "then a server: listen -> attached %s ms; tracer CPU over the flood's first 10 s: "
          "parent %s ms, with the decoding child %s ms" % (
              CFG["flood"], dc["flood_attach_ms"], dc["flood_parent_cpu_ms"],
              dc["flood_all_cpu_ms"]))

    prof = R.get("profile")
    if prof:
        p("")
        p("where a captured hit's BPF time goes (raise probe, hit loop, profile build: ns per hit)")
        p("  depth  " + "".join(f"{st:>9}" for st in PROF_STAGES) + "    total")
        for d in prof.values():
            p(f"  {d['depth']:>5}  " + "".join(f"{fmt(d[st]):>9}" for st in PROF_STAGES) + f"{fmt(d['total']):>9}")

    p("")
    p("tracer process      idle %2d s: CPU     RSS | storm: CPU     RSS  peak RSS (VmHWM)" % CFG["idle_secs"])
    for arm in arms:
        i, s = R["storm"][arm]["idle"], R["storm"][arm]["storm"]
        p(f"  {arm:<23}{i['cpu_pct']:>10.2f}%{i['rss_kb'] / 1024:>6.1f} MB |{s['tracer_cpu_pct']:>10.1f}%"
          f"{s['tracer_rss_kb'] / 1024:>6.1f} MB{max(i['hwm_kb'], s['tracer_hwm_kb']) / 1024:>7.1f} MB")

    p("")
    p("targets")
    for t in R["targets"]:
        p(f"  {t['verdict']:<5} {t['what']}: {t['value']}")
    return "\n".join(L)


def estimate(R):
    """The raise probe's expected cost per healthy request from its parts:
    runs per request x (uprobe trap, from the raise loop) + BPF time."""
    h, lp = R["http"]["arms"], R["loop"]["arms"]
    if "raise" not in h or "trap_ns_per_run" not in lp.get("raise", {}):
        return None
    r = h["raise"]
    untraced_us = 1e6 / h["untraced"]["median_rps"]  # one saturated worker: CPU time per request
    us = r["runs_per_request"] * lp["raise"]["trap_ns_per_run"] / 1000 + r["bpf_us_per_request"]
    return {"runs_per_request": r["runs_per_request"], "trap_ns_per_run": lp["raise"]["trap_ns_per_run"],
            "bpf_us_per_request": r["bpf_us_per_request"], "us_per_request": round(us, 2),
            "untraced_us_per_request": round(untraced_us, 1), "pct": round(us / untraced_us * 100, 1),
            "expected_ratio": round(untraced_us / (untraced_us + us), 3)}


def judge(R):
    out = []

    def add(what, value, ok):
        out.append({"what": what, "value": value, "verdict": verdict(ok) if ok is not None else "INFO"})
    for arm in R["arms"]:
        a = R["attach"][arm]
        add(f"start -> attached < {TARGETS['attach_ms']} ms ({arm})",
            f"median {a['median_ms']} ms, max {a['max_ms']} ms", a["max_ms"] < TARGETS["attach_ms"])
    h = R["http"]["arms"]
    noise = max(0.02, R["http"]["untraced_spread"])
    if "assert" in h:
        add("assert probe: 0 probe runs per healthy request", f"{h['assert']['probe_runs']} runs over "
            f"{h['assert']['requests']} requests (kernel run_cnt {h['assert']['kernel_run_cnt']})",
            h["assert"]["probe_runs"] == 0)
        add("assert probe: traced/untraced throughput 1.00 within noise",
            f"{h['assert']['ratio_median']:.3f} (noise: untraced spread {R['http']['untraced_spread'] * 100:.1f}%)",
            abs(h["assert"]["ratio_median"] - 1) <= noise)
    for name, d in (R.get("watch") or {}).get("healthy", {}).items():
        if "skipped" in d:
            continue
        w = d["arms"]["watch"]
        if name.endswith("big_body"):
            add(f"watch trigger with 64 KiB responses (reported, no target: {name})",
                f"0 runs; CPU untraced/traced {w['cpu_ratio']:.3f}, do_raise "
                f"{d['arms']['assert']['cpu_ratio']:.3f} ({d['arms']['assert']['runs_per_request']:.2f} "
                f"runs/req): the armed breakpoint turns rep movsb copies slow", None)
            continue
        wnoise = max(0.03, d["untraced_spread"])
        add(f"watch trigger: 0 runs per healthy request ({name})",
            f"{w['kernel_run_cnt']} kernel runs over {w['requests']} requests (do_raise: "
            f"{d['arms']['assert']['runs_per_request']:.2f} runs/req)", w["kernel_run_cnt"] == 0)
        add(f"watch trigger: throughput and server CPU per request >= 0.97 or within noise ({name})",
            f"rps x{w['ratio_median']:.3f}, CPU untraced/traced {w['cpu_ratio']:.3f} (do_raise: rps "
            f"x{d['arms']['assert']['ratio_median']:.3f}, CPU {d['arms']['assert']['cpu_ratio']:.3f}; "
            f"untraced spread {d['untraced_spread'] * 100:.1f}%)",
            min(w["ratio_median"], w["cpu_ratio"]) >= min(0.97, 1 - wnoise))
    for py, by_arm in (R.get("watch") or {}).get("storm", {}).items():
        w, r = by_arm["watch"], by_arm["assert"]
        add(f"watch storm: exact, 0 lost, tracer CPU per 1000 failures no worse than do_raise's ({py})",
            f"{w['tracer_ms_per_1000']} ms vs {r['tracer_ms_per_1000']} ms; BPF ns/hit {w['bpf_ns_per_hit']} "
            f"vs {r['bpf_ns_per_hit']}", w["exact"] and not w["lost"] and
            w["tracer_ms_per_1000"] is not None and r["tracer_ms_per_1000"] is not None and
            w["tracer_ms_per_1000"] <= r["tracer_ms_per_1000"] * 1.15)
    r = h["raise"]
    e = R.get("estimate")
    add("raise probe: cost on healthy requests (reported, no target)",
        f"{r['runs_per_request']:.2f} runs/req, measured ratio {r['ratio_median']:.3f}"
        + (f", expected from the parts {e['expected_ratio']:.3f} ({e['us_per_request']:.2f} us/req, "
           f"{e['pct']:.1f}% of the worker's CPU)" if e else ""), None)
    lr = R["loop"]["arms"]["raise"]["bpf_ns_per_run"]
    ns = [x for x in (r["bpf_ns_per_run"], lr) if x is not None]
    add(f"raise probe: BPF ns per non-matching run <= {TARGETS['nonmatch_bpf_ns']}",
        f"{r['bpf_ns_per_run']} ns on healthy FastAPI requests, {lr} ns for ValueError (raise loop)",
        bool(ns) and max(ns) <= TARGETS["nonmatch_bpf_ns"])
    for arm in R["arms"]:
        deep = max(R["hits"][arm].values(), key=lambda d: d["depth"])
        sd = R["storm"][arm]["deep"]
        add(f"BPF ns per captured hit, {deep['frames']}-frame stack <= {TARGETS['hit_bpf_ns']} ({arm})",
            f"{deep['bpf_ns_per_hit']} ns (hit loop); {sd['bpf_ns_per_hit']} ns estimated in the deep storm",
            deep["bpf_ns_per_hit"] is not None and deep["bpf_ns_per_hit"] <= TARGETS["hit_bpf_ns"])
        s = R["storm"][arm]["storm"]
        add(f"storm: 0 lost, full records + summarized == failures ({arm})",
            f"{s['full_records']} full + {s['summarized']} in {s['summary_records']} summaries + {s['lost']} lost "
            f"vs {s['failures']} failures at {s['failures_per_sec']:.0f}/s", s["lost"] == 0 and s["exact"])
        add(f"storm: tracer CPU <= {TARGETS['tracer_ms_per_1000']} ms per 1000 failures ({arm})",
            f"{s['tracer_ms_per_1000']} ms (record rate 100/s); {R['storm'][arm]['storm_full']['tracer_ms_per_1000']} "
            f"ms with a full record per hit", s["tracer_ms_per_1000"] is not None and
            s["tracer_ms_per_1000"] <= TARGETS["tracer_ms_per_1000"])
        hwm = max(R["storm"][arm]["idle"]["hwm_kb"], s["tracer_hwm_kb"]) / 1024
        if arm == R["arms"][-1] and R.get("execs"):
            ex = R["execs"]
            add(f"node mode: tracer CPU per unrelated exec <= {TARGETS['exec_us']} us",
                f"{ex['tracer_us_per_exec']} us; {sum(ex['exec_events'])} of "
                f"{ex['execs_per_round'] * ex['rounds']} execs reached user space",
                ex["tracer_us_per_exec"] <= TARGETS["exec_us"])
        add(f"tracer RSS < {TARGETS['rss_mb']} MB ({arm})", f"peak {hwm:.1f} MB (VmHWM)", hwm < TARGETS["rss_mb"])
    dc = R.get("discovery")
    if dc:
        add("node mode: a server's listen -> attached < 1000 ms (python main.py)",
            f"median {dc['listen_to_attached_median_ms']} ms, max {max(dc['listen_to_attached_ms'])} ms",
            max(dc["listen_to_attached_ms"]) < 1000)
        add(f"node mode: a server's listen -> attached < 1000 ms after {CFG['flood']} bogus "
            "interpreters", f"{dc['flood_attach_ms']} ms (parent CPU for the flood "
            f"{dc['flood_parent_cpu_ms']} ms)", dc["flood_attach_ms"] < 1000)
        add("node mode: tracer CPU per Python process that never serves (reported, no target)",
            f"{dc['short_us_per_process']} us short-lived, {dc['long_us_per_process']} us over the "
            f"whole schedule", None)
    return out


# --------------------------------------------------------------------------

def preflight():
    if os.geteuid() != 0:
        raise BenchError("run as root (BPF, uprobes, kernel.bpf_stats_enabled)")
    for what, ok in (("build/sessiontrace (make all)", TRACER.exists()),
                     ("/sys/kernel/btf/vmlinux", Path("/sys/kernel/btf/vmlinux").exists()),
                     (PYTHON, os.access(PYTHON, os.X_OK)),
                     ("wrk", subprocess.run(["sh", "-c", "command -v wrk"], capture_output=True).returncode == 0),
                     ("bpftool", subprocess.run(["sh", "-c", "command -v bpftool"], capture_output=True).returncode == 0),
                     ("taskset", subprocess.run(["sh", "-c", "command -v taskset"], capture_output=True).returncode == 0)):
        if not ok:
            raise BenchError(f"missing: {what}")


def main():
    preflight()
    WORK.mkdir(parents=True, exist_ok=True)
    old_stats = STATS_SYSCTL.read_text().strip()
    started = time.monotonic()
    servers = []

    def on_term(signum, frame):
        raise KeyboardInterrupt
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_term)
    try:
        STATS_SYSCTL.write_text("1\n")
        R = {"machine": machine(), "config": dict(CFG, quick=QUICK), "targets_def": TARGETS}
        probe_flag = tracer_has_probe_flag()
        arms = ["raise", "assert"] if probe_flag else ["raise"]
        log(f"sessiontrace bench: {TRACER}; probes to measure: {', '.join(arms)}"
            + (" (QUICK)" if QUICK else ""))
        healthy = Server("healthy_app", "healthy")
        storm = Server("storm_app", "storm")
        servers += [healthy, storm]
        healthy.wait_ready("/healthy")
        storm.wait_ready("/count")

        log("attach latency")
        R["attach"], R["dropped"] = bench_attach(healthy, arms, probe_flag)
        R["arms"] = arms
        log("healthy throughput")
        R["http"] = bench_http(healthy, arms, probe_flag)
        log("raise/catch loop")
        R["loop"] = bench_loop(arms, probe_flag)
        log("captured hits (hit loop)")
        R["hits"] = {}
        for arm in arms:
            R["hits"][arm] = bench_hits(arm, probe_flag, R["loop"]["arms"]["raise"]["bpf_ns_per_run"])
        log("stage profile of a captured hit")
        R["profile"] = bench_profile()
        log("node mode: unrelated execs")
        R["execs"] = bench_execs()
        log("node mode: discovery of Python processes")
        R["discovery"] = bench_discovery()
        log("distro interpreters")
        R["distro"] = bench_distro(probe_flag)
        log("watch trigger: 3.14 and 3.15")
        R["watch"] = bench_watch(probe_flag)
        log("storm")
        R["storm"] = {}
        for arm in arms:
            nonmatch = R["http"]["arms"][arm]["bpf_ns_per_run"]
            R["storm"][arm] = bench_storm(storm, arm, probe_flag, nonmatch)
        if "assert" in arms:
            log("responsiveness")
            R["responsive"] = bench_responsive(storm, probe_flag)
        R["machine"]["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        R["elapsed_s"] = round(time.monotonic() - started, 1)
        RESULTS.write_text(json.dumps(R, indent=1) + "\n")  # before formatting: a report bug loses nothing
        R["estimate"] = estimate(R)
        R["targets"] = judge(R)
        text = report(R)
        print(text)
        print(f"\n(total {R['elapsed_s']} s; machine-readable: {RESULTS.relative_to(REPO)})")
        RESULTS.write_text(json.dumps(R, indent=1) + "\n")
        return 0
    except BenchError as e:
        log(f"bench: error: {e}")
        return 1
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        cleanup()
        for s in servers:
            if s.log is not subprocess.DEVNULL:
                s.log.close()
        try:
            STATS_SYSCTL.write_text(old_stats + "\n")
        except OSError as e:
            log(f"bench: could not restore kernel.bpf_stats_enabled={old_stats}: {e}")


def rerender(path):
    """The report of a saved results.json (bench/run.py --report FILE)."""
    R = json.loads(Path(path).read_text())
    R["estimate"] = estimate(R)
    R["targets"] = judge(R)
    print(report(R))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--report":
        sys.exit(rerender(sys.argv[2]))
    sys.exit(main())
