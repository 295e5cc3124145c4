"""The Debian package (issue 27): built by debhelper from the tracked files
(make deb), then installed with apt in a fresh Debian 12 minbase root
filesystem with no build tool (scripts/rootfs.sh bookworm): apt pulls only
runtime libraries; --version, --help and man work; the unit file passes
systemd-analyze verify; the installed binary, run in that rootfs, traces a
server of that rootfs: N failing requests give N records. The package and
what it pulled are purged afterwards (the rootfs stays as deps.sh built it).
"""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import REPO, ROOTFS, Interp, http_request

ROOT = ROOTFS / "bookworm"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive",
       "LANG": "C.UTF-8", "MANWIDTH": "100"}


def chroot(*argv, timeout=300, check=True):
    r = subprocess.run(["chroot", str(ROOT)] + list(argv), capture_output=True, text=True,
                       env=ENV, timeout=timeout)
    if check:
        assert r.returncode == 0, (argv, r.stdout[-3000:], r.stderr[-3000:])
    return r


def new_packages(apt_output):
    """The packages apt says it installs: "The following NEW packages will be installed:"."""
    m = re.search(r"The following NEW packages will be installed:\n((?:  .*\n)+)", apt_output)
    return m.group(1).split() if m else []


def version():
    with open(REPO / "user" / "util" / "version.h") as f:
        return re.search(r'#define ST_VERSION "([^"]+)"', f.read()).group(1)


def test_deb_in_a_fresh_bookworm(servers, tmp_path):
    if not (ROOT / ".sessiontrace-ready").exists():
        pytest.fail(f"{ROOT} is missing: scripts/rootfs.sh bookworm (deps.sh) builds it")
    if shutil.which("dpkg-buildpackage") is None or shutil.which("lintian") is None:
        pytest.fail("debhelper, dpkg-dev and lintian are missing: scripts/deps.sh installs them")
    r = subprocess.run(["make", "-C", str(REPO), "--no-print-directory", "deb"],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    depends = re.search(r"^runtime Depends: (.*)$", r.stdout, re.M).group(1)
    print(f"runtime Depends: {depends}")  # make deb prints it too
    debs = glob.glob(str(REPO / "build" / "deb" / f"sessiontrace_{version()}_amd64.deb"))
    assert len(debs) == 1, debs
    name = os.path.basename(debs[0])
    shutil.copy(debs[0], ROOT / "tmp" / name)
    sys_mount = ROOT / "sys"
    mounted = False
    try:
        r = chroot("apt-get", "install", "-y", "--no-install-recommends", f"/tmp/{name}",
                   timeout=600)
        new = new_packages(r.stdout)
        print(f"apt installed: {' '.join(new)}")
        assert "sessiontrace" in new, r.stdout
        # only what the binary links: libraries, no compiler, no -dev, no BPF toolchain
        others = [p for p in new if p != "sessiontrace"]
        assert others and all(p.startswith("lib") and not p.endswith("-dev") for p in others), new
        assert chroot("sessiontrace", "--version").stdout.strip() == f"sessiontrace {version()}"
        assert chroot("sessiontrace", "--help").stdout.startswith("Usage: sessiontrace")
        page = chroot("man", "-P", "cat", "sessiontrace").stdout
        assert "sessiontrace - record Starlette SessionMiddleware failures" in page, page[:500]
        assert "--max-series-per-service" in page and "SIGHUP" in page
        assert os.path.exists(ROOT / "etc" / "logrotate.d" / "sessiontrace")
        assert os.path.exists(ROOT / "usr/share/sessiontrace/prometheus/sessiontrace-rules.yml")
        assert os.path.exists(ROOT / "usr/share/bash-completion/completions/sessiontrace")
        unit = ROOT / "lib" / "systemd" / "system" / "sessiontrace.service"
        assert "ExecStart=/usr/sbin/sessiontrace " in unit.read_text()
        r = subprocess.run(["systemd-analyze", "verify", f"--root={ROOT}",
                            "/lib/systemd/system/sessiontrace.service"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        # not enabled, not started: no wants link anywhere
        assert not glob.glob(str(ROOT / "etc/systemd/system/*.wants/sessiontrace.service"))

        # the installed binary traces a server of the rootfs, from inside it
        subprocess.run(["mount", "-t", "sysfs", "sysfs", str(sys_mount)], check=True)
        mounted = True
        interp = Interp("bookworm-3.11", "/usr/bin/python3.11", pyenv=False,
                        root=str(ROOT)).require()
        s = servers.start(interp, "mw_no_session")
        for f in glob.glob(str(ROOT / "tmp" / "pkg*.jsonl")):
            os.unlink(f)
        tracer = subprocess.Popen(["chroot", str(ROOT), "/usr/sbin/sessiontrace", "-p",
                                   str(s.pid), "-q", "-j", "/tmp/pkg.jsonl"],
                                  stderr=subprocess.PIPE, text=True, env=ENV)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(tracer.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while not any(l.startswith(f"attached pid={s.pid} ") for l in list(lines)):
            assert tracer.poll() is None and time.monotonic() < deadline, lines
            time.sleep(0.05)
        n = 5
        paths = [f"/pkg/{i}" for i in range(n)]
        for p in paths:
            assert http_request(s.port, p).status == 500
        deadline = time.monotonic() + 20
        out = ROOT / "tmp" / "pkg.jsonl"
        while time.monotonic() < deadline:
            recs = [json.loads(l) for l in out.read_text().splitlines()] if out.exists() else []
            recs = [r for r in recs if r.get("kind") != "prediction"]
            if len(recs) >= n:
                break
            time.sleep(0.1)
        tracer.send_signal(signal.SIGINT)
        assert tracer.wait(timeout=20) == 0, lines
        reader.join(timeout=5)
        recs = [r for r in map(json.loads, out.read_text().splitlines())
                if r.get("kind") != "prediction"]
        assert sorted(r["request"]["path"] for r in recs) == paths, lines
        assert all(r["cause"] == "missing_middleware" for r in recs)
    finally:
        servers.stop_all()
        if mounted:
            subprocess.run(["umount", "-l", str(sys_mount)], check=False)
        chroot("apt-get", "purge", "-y", "sessiontrace", check=False)
        chroot("apt-get", "autoremove", "-y", "--purge", check=False)
        for f in [ROOT / "tmp" / name] + [p for p in (ROOT / "tmp").glob("pkg*.jsonl")]:
            if f.exists():
                os.unlink(f)
