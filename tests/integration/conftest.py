"""Fixtures and helpers for sessiontrace's integration tests.

* interpreters: ``interp`` is parametrized over debian-3.11, pyenv 3.10-3.13
  and the distro builds of scripts/rootfs.sh (Debian 13's python3.13, sid's
  3.13, 3.14 and 3.15, each run with ``chroot ROOT``; tests/apps is bind-mounted
  at the same path inside). An interpreter that is missing or cannot import
  starlette+uvicorn makes its tests SKIP with the reason, or FAIL under
  CI=true, where every one of them must be there.
* servers: ``servers.start(interp, "module")`` runs
  ``<python> -m uvicorn module:app --host 127.0.0.1 --port P --app-dir tests/apps``
  and waits until it answers HTTP; every server is killed at teardown.
* tracer: ``tracers.start([pid, ...])`` runs ``build/sessiontrace -p PID... -j FILE -q``
  and waits for the ``attached pid=... python=... probe=raise|assert|watch`` lines;
  ``Tracer.stop()`` sends SIGINT, asserts exit 0 and returns the JSON records.
  Tracer tests skip unless root + /sys/kernel/btf/vmlinux + build/sessiontrace
  (a missing binary fails instead when CI=true).

Requests use http.client (stdlib; what urllib.request is built on) so that the
client's local port is known and the record's ``client`` can be checked exactly.
"""
import http.client
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import shutil
import urllib.parse
import urllib.request
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

import pytest

sys.dont_write_bytecode = True

REPO = Path(__file__).resolve().parents[2]
ROOTFS = Path(os.environ.get("ST_ROOTFS", "/var/cache/sessiontrace/rootfs"))
APPS = REPO / "tests" / "apps"
PYENV_SITE = APPS / "pyenv_site"
# SESSIONTRACE_BIN overrides the binary under test (e.g. an installed copy).
TRACER_BIN = Path(os.environ.get("SESSIONTRACE_BIN") or REPO / "build" / "sessiontrace")

SERVER_START_TIMEOUT = 20.0
ATTACH_TIMEOUT = 10.0
RECORD_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0

SESSION_MESSAGE = "SessionMiddleware must be installed to access request.session"

# healthy.py: (path, status, body) for one round with a fresh cookie jar; the
# round ends with an empty session again so it can be repeated.
HEALTHY_EXPECTED = [
    ("/ok", 200, b"ok"),
    ("/session/get", 200, b"{}"),
    ("/session/set/a/1", 200, b"set a=1"),
    ("/session/set/b/two", 200, b"set b=two"),
    ("/session/get", 200, b'{"a":"1","b":"two"}'),
    ("/caught/keyerror", 200, b"caught KeyError 'missing'"),
    ("/caught/valueerror", 200, b"caught ValueError"),
    ("/caught/assert", 200, b"caught AssertionError other message"),
    ("/caught/session-like", 200,
     b"caught AssertionError request.session was fine, this is another assertion"),
    ("/escapes/assert", 500, b"Internal Server Error"),
    ("/escapes/auth", 500, b"Internal Server Error"),
    ("/escapes/keyerror", 500, b"Internal Server Error"),
    ("/session/clear", 200, b"cleared"),
    ("/session/get", 200, b"{}"),
    ("/nope", 404, b"Not Found"),
]


# --------------------------------------------------------------------------
# interpreters
# --------------------------------------------------------------------------

@dataclass
class Interp:
    name: str
    python: str
    pyenv: bool  # needs the sitecustomize path and the pure-Python h11/asyncio stack
    version: Optional[str] = None  # platform.python_version(), filled by probe()
    starlette: tuple = ()  # starlette.__version__ as (major, minor), filled by probe()
    skip_reason: Optional[str] = None
    extra_env: Dict[str, str] = field(default_factory=dict)  # e.g. LD_LIBRARY_PATH
    root: Optional[str] = None  # a scripts/rootfs.sh tree: python is run in chroot ROOT
    _probed: bool = False
    _module_ok: Dict[str, Optional[str]] = field(default_factory=dict)

    def env(self) -> Dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONOPTIMIZE")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONUNBUFFERED"] = "1"
        if self.pyenv:
            env["PYTHONPATH"] = str(PYENV_SITE)
        if self.root:
            # chroot(1) starts in /: the apps directory (mounted at the same
            # path inside) takes the place of the working directory
            env["PYTHONPATH"] = str(APPS)
        env.update(self.extra_env)
        return env

    def argv(self) -> List[str]:
        """The interpreter as a command: ``chroot ROOT python`` for a rootfs one."""
        return (["chroot", self.root] if self.root else []) + [self.python]

    @property
    def host_path(self) -> str:
        return (self.root or "") + self.python

    def uvicorn_flags(self) -> List[str]:
        return ["--http", "h11", "--loop", "asyncio"] if self.pyenv else []

    def run(self, code: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv() + ["-c", code], env=self.env(), cwd=str(APPS),
                              capture_output=True, text=True, timeout=timeout)

    def probe(self) -> None:
        if self._probed:
            return
        self._probed = True
        if not os.access(self.host_path, os.X_OK):
            self.skip_reason = (f"{self.name}: interpreter {self.host_path} not found"
                                + (" (scripts/rootfs.sh builds it)" if self.root else ""))
            return
        if self.root:
            if os.geteuid() != 0:
                self.skip_reason = f"{self.name}: running it with chroot needs root"
                return
            rootfs_mounts(self.root)
        code = ("import platform, starlette, uvicorn, itsdangerous, "
                "starlette.middleware.sessions; print(platform.python_version(), "
                "starlette.__version__)")
        try:
            r = self.run(code)
        except subprocess.TimeoutExpired:
            self.skip_reason = f"{self.name}: {self.python} timed out importing starlette+uvicorn"
            return
        if r.returncode != 0:
            last = (r.stderr.strip().splitlines() or ["?"])[-1]
            self.skip_reason = (f"{self.name}: {self.python} cannot import "
                                f"starlette+uvicorn+itsdangerous: {last}")
            return
        self.version, sv = r.stdout.split()
        self.starlette = tuple(int(x) for x in sv.split(".")[:2])

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    @property
    def tracer_version(self) -> str:
        """What the tracer reports: X.Y.Z (Py_Version from 3.11, the PY_VERSION
        literal before)."""
        return self.version

    def fn(self, qualname: str) -> str:
        """Function name as recorded: co_qualname from 3.11, co_name before."""
        return qualname if self.minor >= 11 else qualname.rsplit(".", 1)[-1]

    def require(self) -> "Interp":
        self.probe()
        if self.skip_reason:
            if os.environ.get("CI") == "true":
                pytest.fail(f"CI=true and an interpreter the suite expects is missing: "
                            f"{self.skip_reason}")
            pytest.skip(self.skip_reason)
        return self

    def require_module(self, module: str) -> None:
        """Skip unless ``module`` (e.g. 'fastapi_app') imports under this interpreter."""
        self.require()
        if module not in self._module_ok:
            r = self.run(f"import {module}")
            self._module_ok[module] = None if r.returncode == 0 else \
                (r.stderr.strip().splitlines() or ["?"])[-1]
        if self._module_ok[module] is not None:
            pytest.skip(f"{self.name}: {self.python} cannot import {module}: "
                        f"{self._module_ok[module]}")


INTERPRETERS = {
    "debian-3.11": Interp("debian-3.11", "/usr/bin/python3.11", pyenv=False),
    "pyenv-3.10": Interp("pyenv-3.10", "/root/.pyenv/versions/3.10.13/bin/python3.10", pyenv=True),
    "pyenv-3.11": Interp("pyenv-3.11", "/root/.pyenv/versions/3.11.7/bin/python3.11", pyenv=True),
    "pyenv-3.12": Interp("pyenv-3.12", "/root/.pyenv/versions/3.12.1/bin/python3.12", pyenv=True),
    "pyenv-3.13": Interp("pyenv-3.13", "/root/.pyenv/versions/3.13.0/bin/python3.13", pyenv=True),
    "trixie-3.13": Interp("trixie-3.13", "/usr/bin/python3.13", pyenv=False,
                          root=str(ROOTFS / "trixie")),
    "sid-3.13": Interp("sid-3.13", "/usr/bin/python3.13", pyenv=False, root=str(ROOTFS / "sid")),
    "sid-3.14": Interp("sid-3.14", "/usr/bin/python3.14", pyenv=False, root=str(ROOTFS / "sid")),
    "sid-3.15": Interp("sid-3.15", "/usr/bin/python3.15", pyenv=False, root=str(ROOTFS / "sid")),
}
DISTRO = ["trixie-3.13", "sid-3.13", "sid-3.14", "sid-3.15"]

_MOUNTED: List[str] = []


def rootfs_mounts(root: str) -> None:
    """tests/apps at the same path inside root, and a /proc there (once);
    undone at the end of the session."""
    for target, args in ((root + str(APPS), ["--bind", str(APPS)]),
                         (root + "/proc", ["-t", "proc", "proc"])):
        if os.path.ismount(target):
            continue
        os.makedirs(target, exist_ok=True)
        subprocess.run(["mount"] + args + [target], check=True)
        _MOUNTED.append(target)


@pytest.fixture(scope="session", autouse=True)
def _rootfs_unmount():
    yield
    for target in reversed(_MOUNTED):
        subprocess.run(["umount", "-l", target], check=False)
    _MOUNTED.clear()


@pytest.fixture
def debian() -> Interp:
    """Debian's own python3.11 (stripped, static), for tests of one interpreter."""
    return INTERPRETERS["debian-3.11"].require()


@pytest.fixture(params=list(INTERPRETERS), ids=list(INTERPRETERS))
def interp(request) -> Interp:
    return INTERPRETERS[request.param].require()


_SESSION_RAISE_PROBE = r"""
import json
from starlette.requests import Request
try:
    Request({"type": "http"}).session
except AssertionError as e:
    tb = e.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    c = tb.tb_frame.f_code
    print(json.dumps({"function": getattr(c, "co_qualname", c.co_name), "file": c.co_filename,
                      "line": tb.tb_lineno, "message": str(e)}))
"""


def session_raise_frame(interp: Interp) -> dict:
    """The innermost frame of the session AssertionError, as this interpreter
    itself reports it (qualname, file, traceback line)."""
    r = interp.run(_SESSION_RAISE_PROBE)
    assert r.returncode == 0 and r.stdout.strip(), r.stderr
    return json.loads(r.stdout)


# --------------------------------------------------------------------------
# app source helpers
# --------------------------------------------------------------------------

def access_line(module: str, tag: str) -> int:
    """Line number (1-based) in tests/apps/<module>.py of the line that reads
    request.session and carries the marker ``# st-access: <tag>``."""
    path = APPS / f"{module}.py"
    hits = [i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if "request.session" in line and line.rstrip().endswith(f"# st-access: {tag}")]
    assert len(hits) == 1, f"expected one st-access line for {tag!r} in {path}, found {hits}"
    return hits[0]


def app_file(module: str) -> str:
    return str(APPS / f"{module}.py")


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Response:
    status: int
    body: bytes
    client_port: int


def http_request(port: int, path: str, method: str = "GET", body: Optional[bytes] = None,
                 headers: Optional[Dict[str, str]] = None, timeout: float = HTTP_TIMEOUT) -> Response:
    """One request on a fresh connection to 127.0.0.1:port. ``path`` is sent
    verbatim (percent-encoding preserved)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, data, client_port)
    finally:
        conn.close()


class CookieClient:
    """Minimal cookie-keeping client (only for the healthy app's session cookie)."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: Dict[str, str] = {}

    def get(self, path: str) -> Response:
        headers = {}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            conn.connect()
            client_port = conn.sock.getsockname()[1]
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            for name, value in resp.getheaders():
                if name.lower() == "set-cookie":
                    k, _, rest = value.partition("=")
                    v = rest.split(";", 1)[0]
                    if v in ("", "null") or "expires=thu, 01 jan 1970" in value.lower():
                        self.cookies.pop(k, None)
                    else:
                        self.cookies[k] = v
            return Response(resp.status, data, client_port)
        finally:
            conn.close()


# --------------------------------------------------------------------------
# servers
# --------------------------------------------------------------------------

class Server:
    def __init__(self, interp: Interp, module: str, log_path: Path,
                 argv: Optional[List[str]] = None, python_flags: Optional[List[str]] = None):
        """``argv``: a whole command line instead of plain uvicorn; ``{port}``,
        ``{python}`` and ``{apps}`` in it are filled in (gunicorn, --workers,
        unshare wrappers). ``python_flags``: interpreter options before
        ``-m uvicorn`` (e.g. ``["-O"]``)."""
        self.interp = interp
        self.module = module
        self.port = free_port()
        self.log_path = log_path
        self._log = open(log_path, "wb")
        if argv is None:
            cmd = interp.argv() + list(python_flags or []) + ["-m", "uvicorn", f"{module}:app",
                   "--host", "127.0.0.1", "--port", str(self.port),
                   "--app-dir", str(APPS), "--no-access-log"] + interp.uvicorn_flags()
        else:
            cmd = []
            for a in argv:
                # a bare {python} is the whole interpreter command (chroot ROOT python)
                cmd += interp.argv() if a == "{python}" else \
                    [a.format(port=self.port, python=interp.python, apps=APPS)]
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=interp.env(),
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self, full: bool = False) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
            return text if full else text[-4000:]
        except OSError:
            return ""

    def wait_ready(self, timeout: float = SERVER_START_TIMEOUT, get: bool = True) -> None:
        """Until it answers GET /ok; get=False: until it accepts a connection,
        closed unused, so the app has served no request (inspect's tests)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"uvicorn {self.module} ({self.interp.name}) exited "
                            f"rc={self.proc.returncode} before serving:\n{self.log()}")
            try:
                if get:
                    http_request(self.port, "/ok", timeout=2.0)
                else:
                    socket.create_connection(("127.0.0.1", self.port), timeout=2.0).close()
                return
            except (OSError, http.client.HTTPException) as e:
                last = e
                time.sleep(0.1)
        pytest.fail(f"uvicorn {self.module} ({self.interp.name}) not answering on "
                    f"127.0.0.1:{self.port} after {timeout}s ({last!r}):\n{self.log()}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        try:
            if self.proc.poll() is None:
                try:  # the group: an unshare wrapper does not pass SIGTERM on
                    os.killpg(self.proc.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    self.proc.terminate()
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
        finally:
            try:  # workers left behind by a master that died first
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self._log.close()


class Servers:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.all: List[Server] = []

    def start(self, interp: Interp, module: str, argv: Optional[List[str]] = None,
              python_flags: Optional[List[str]] = None, http_ready: bool = True,
              timeout: float = SERVER_START_TIMEOUT) -> Server:
        n = len(self.all)
        s = Server(interp, module, self.tmp_path / f"server{n}-{module}.log", argv, python_flags)
        self.all.append(s)
        s.wait_ready(timeout=timeout, get=http_ready)
        return s

    def stop_all(self) -> None:
        errors = []
        for s in self.all:
            try:
                s.stop()
            except Exception as e:  # keep killing the others
                errors.append(e)
        if errors:
            raise errors[0]


@pytest.fixture
def servers(tmp_path):
    srv = Servers(tmp_path)
    try:
        yield srv
    finally:
        srv.stop_all()


# --------------------------------------------------------------------------
# tracer
# --------------------------------------------------------------------------

PROBE_PROGRAMS = ("assert_probe", "do_raise_probe", "raise_probe", "watch_probe")


@pytest.fixture
def bpf_stats():
    """kernel.bpf_stats_enabled=1 for the test (restored after): the kernel
    then counts every run of every BPF program, an oracle independent of the
    tracer's own counters."""
    path = "/proc/sys/kernel/bpf_stats_enabled"
    with open(path) as f:
        old = f.read().strip()
    with open(path, "w") as f:
        f.write("1")
    try:
        yield
    finally:
        with open(path, "w") as f:
            f.write(old)


def kernel_runs(tracer_pid: int, names=PROBE_PROGRAMS) -> int:
    """run_cnt (bpf_stats) of the tracer's probe programs, summed: the BPF
    program fds it holds (/proc/PID/fdinfo), named by bpftool. Every program
    a target can trigger by default: the uprobes and the watch trigger's
    perf_event program."""
    total, seen = 0, 0
    fddir = f"/proc/{tracer_pid}/fd"
    for fd in os.listdir(fddir):
        try:
            if os.readlink(f"{fddir}/{fd}") != "anon_inode:bpf-prog":
                continue
            with open(f"/proc/{tracer_pid}/fdinfo/{fd}") as f:
                info = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        r = subprocess.run(["bpftool", "-j", "prog", "show", "id", info["prog_id"].strip()],
                           capture_output=True, text=True, check=True)
        if json.loads(r.stdout).get("name") in names:
            total += int(info["run_cnt"])
            seen += 1
    # -p loads only the program its targets need
    assert seen >= 1, f"tracer {tracer_pid}: none of {names} loaded"
    return total


def tracer_skip_reason() -> Optional[str]:
    if os.geteuid() != 0:
        return "sessiontrace needs root (eBPF uprobes)"
    if not os.path.exists("/sys/kernel/btf/vmlinux"):
        return "kernel has no BTF (/sys/kernel/btf/vmlinux missing)"
    if not os.access(TRACER_BIN, os.X_OK):
        return f"{TRACER_BIN} not built (run make)"
    return None


@pytest.fixture
def tracer_ok():
    reason = tracer_skip_reason()
    if reason:
        if os.environ.get("CI") == "true" and not os.access(TRACER_BIN, os.X_OK):
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


class Tracer:
    """build/sessiontrace run in the background; stderr collected line by line."""

    def __init__(self, args: List[str], tmp_path: Path, json_path: Optional[Path],
                 prefix: Optional[List[str]] = None):
        """``prefix``: a command that execs the rest (its pid is the tracer's)."""
        self.args = list(prefix or []) + [str(TRACER_BIN)] + args
        self.json_path = json_path
        self.stdout_path = tmp_path / f"tracer-{id(self)}.stdout"
        self._stdout = open(self.stdout_path, "wb")
        self.start_time = time.time()
        self.proc = subprocess.Popen(self.args, cwd=str(REPO), stdin=subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self._lines: List[str] = []
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self.returncode: Optional[int] = None

    def _read_stderr(self) -> None:
        for raw in self.proc.stderr:
            with self._cond:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr_lines(self) -> List[str]:
        with self._cond:
            return list(self._lines)

    def stdout(self) -> bytes:
        return self.stdout_path.read_bytes()

    def wait_line(self, pattern: str, timeout: float) -> str:
        """Wait (bounded) for a stderr line fully matching the regex ``pattern``."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if rx.fullmatch(line):
                        return line
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._cond.wait(min(left, 0.2))
        self.proc.poll()
        pytest.fail(f"tracer: no stderr line matching {pattern!r} within {timeout}s "
                    f"(rc={self.proc.returncode}); stderr so far:\n" + "\n".join(self.stderr_lines()))

    def wait_attached(self, pid: int, version: str, timeout: float = ATTACH_TIMEOUT,
                      probe: Optional[str] = None) -> str:
        """Wait for the attached line; returns the probe it names (raise,
        assert or watch), which must be ``probe`` when given."""
        line = self.wait_line(rf"attached pid={pid} python={re.escape(version)} "
                              rf"probe=({probe or 'raise|assert|watch'})( ns_pid=\d+)?", timeout)
        return re.search(r"probe=(\w+)", line).group(1)

    def read_records(self, kind: Optional[str] = None) -> List[dict]:
        """Records in the -j file; every complete line must be a JSON object.
        The failures (and their summaries) by default; kind="prediction":
        inspect's findings, written when a server is attached."""
        if self.json_path is None or not self.json_path.exists():
            return []
        text = self.json_path.read_bytes().decode("utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        elif self.returncode is not None and lines:
            pytest.fail(f"JSON file does not end with a newline: {lines[-1]!r}")
        else:
            lines = lines[:-1]  # still running: last line may be mid-write
        out = []
        for i, line in enumerate(lines, 1):
            try:
                rec = json.loads(line)
            except ValueError as e:
                pytest.fail(f"{self.json_path} line {i} is not JSON ({e}): {line!r}")
            assert isinstance(rec, dict), f"line {i} is not a JSON object: {line!r}"
            if rec.get("kind") == kind:
                out.append(rec)
        return out

    def wait_records(self, n: int, timeout: float = RECORD_TIMEOUT, settle: float = 0.0) -> List[dict]:
        """Wait (bounded) until at least n records are in the file. Surplus
        records are caught by stop(), which drains every record there is;
        settle > 0 only where no later condition exists to wait for."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.read_records()) >= n:
                break
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        time.sleep(settle)
        return self.read_records()

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float = STOP_TIMEOUT) -> int:
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"tracer did not exit within {timeout}s; stderr:\n"
                        + "\n".join(self.stderr_lines()))
        self._reader.join(timeout=5)
        self._stdout.close()
        return self.returncode

    def stop(self, sig: int = signal.SIGINT) -> List[dict]:
        """Signal, wait, assert exit 0, -j file mode 0600 and (-q) empty stdout;
        return the parsed records."""
        assert self.proc.poll() is None, (
            f"tracer exited early rc={self.proc.returncode}; stderr:\n"
            + "\n".join(self.stderr_lines()))
        self.send(sig)
        rc = self.wait()
        assert rc == 0, f"tracer exit code {rc} after {signal.Signals(sig).name}; stderr:\n" \
            + "\n".join(self.stderr_lines())
        if "-q" in self.args:
            assert self.stdout() == b"", f"-q but stdout is {self.stdout()[:500]!r}"
        self.check_accounting()
        records = []
        if self.json_path is not None:
            assert self.json_path.exists(), f"-j {self.json_path} was not created"
            mode = stat.S_IMODE(os.stat(self.json_path).st_mode)
            assert mode == 0o600, f"-j file mode is {oct(mode)}, want 0o600"
            records = self.read_records()
        return records

    SUMMARY = re.compile(r"exiting: (\d+) records, (\d+) lost, (\d+) hits, .*, (\d+) dropped"
                         r"(?: \(([^)]*)\))?; (\d+) of the records in summaries$")

    RUNS = re.compile(r"exiting: .*, (\d+) probe runs,")

    def summary(self) -> dict:
        """The exit summary's counters: records, lost, hits, dropped and
        dropped by reason, and the probe programs' runs in traced processes."""
        for line in self.stderr_lines():
            m = self.SUMMARY.search(line)
            if m:
                why = dict((k, int(v)) for k, v in
                           (p.rsplit(" ", 1) for p in m.group(5).split(", "))) if m.group(5) else {}
                return dict(records=int(m.group(1)), lost=int(m.group(2)), hits=int(m.group(3)),
                            dropped=int(m.group(4)), why=why, summarized=int(m.group(6)),
                            runs=int(self.RUNS.search(line).group(1)))
        pytest.fail("no exit summary on stderr:\n" + "\n".join(self.stderr_lines()))

    def check_accounting(self) -> dict:
        """Every hit the BPF program counted is a record, lost, or dropped
        for a named reason: records + lost + dropped == hits, exactly."""
        sm = self.summary()
        assert sm["records"] + sm["lost"] + sm["dropped"] == sm["hits"], sm
        assert sum(sm["why"].values()) == sm["dropped"], sm
        return sm

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass


class Tracers:
    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.all: List[Tracer] = []

    def spawn(self, args: List[str], json_path: Optional[Path] = None,
              prefix: Optional[List[str]] = None) -> Tracer:
        t = Tracer(args, self.tmp_path, json_path, prefix)
        self.all.append(t)
        return t

    def start(self, targets: List[Server], quiet: bool = True, extra: Optional[List[str]] = None) -> Tracer:
        """``sessiontrace -p PID... -j FILE [-q]`` started after the servers are
        up; returns once every target's ``attached`` line is on stderr."""
        json_path = self.tmp_path / f"records-{len(self.all)}.jsonl"
        assert not json_path.exists()
        args: List[str] = []
        for s in targets:
            args += ["-p", str(s.pid)]
        args += ["-j", str(json_path)]
        if quiet:
            args.append("-q")
        args += extra or []
        t = self.spawn(args, json_path)
        for s in targets:
            t.wait_attached(s.pid, s.interp.tracer_version)
        return t

    def kill_all(self) -> None:
        for t in self.all:
            t.kill()
            try:
                t._stdout.close()
            except Exception:
                pass


@pytest.fixture
def tracers(tmp_path, tracer_ok):
    tr = Tracers(tmp_path)
    try:
        yield tr
    finally:
        tr.kill_all()


# --------------------------------------------------------------------------
# record checks
# --------------------------------------------------------------------------

TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")


def parse_ts(ts: str) -> float:
    from datetime import datetime, timezone
    assert isinstance(ts, str) and TS_RE.fullmatch(ts), f"bad ts {ts!r}"
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def thread_ids(pid: int) -> set:
    try:
        return {int(t) for t in os.listdir(f"/proc/{pid}/task")}
    except FileNotFoundError:
        return set()


def proc_comm(pid: int) -> str:
    with open(f"/proc/{pid}/comm") as f:
        return f.read().rstrip("\n")


class Prometheus:
    """A real Prometheus (Debian's) scraping jobs {name: "host:port"} every
    second, on a free port; stopped on exit from the with block."""

    def __init__(self, tmp_path: Path, jobs: Dict[str, str], flags: Optional[List[str]] = None):
        prom = shutil.which("prometheus")
        if prom is None:
            pytest.fail("prometheus is missing; scripts/deps.sh installs it")
        self.tmp_path = tmp_path
        self.port = free_port()
        cfg = tmp_path / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                       "scrape_configs:\n" + "".join(
                           f"  - job_name: {name}\n    static_configs:\n"
                           f"      - targets: ['{target}']\n" for name, target in jobs.items()))
        self.log_path = tmp_path / "prometheus.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([prom, f"--config.file={cfg}",
                                      f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                      f"--web.listen-address=127.0.0.1:{self.port}"]
                                     + list(flags or []),
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def api(self, path: str, **params) -> dict:
        """GET /api/v1/<path>?params: its "data"; OSError while it starts."""
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/{path}?{q}",
                                    timeout=5) as r:
            return json.load(r)["data"]

    def log(self) -> str:
        return self.log_path.read_text()[-2000:]

    def __enter__(self) -> "Prometheus":
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        self._log.close()
