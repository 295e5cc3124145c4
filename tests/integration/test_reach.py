"""Reach: stripped interpreters (issue 3).

A stripped copy of each pyenv libpython (``strip`` of the real file) is put
first on LD_LIBRARY_PATH of a uvicorn started before the tracer; the test
checks the server really maps the stripped copy, then that N failing requests
give exactly N records with their paths and the right accessor.
"""
import dataclasses
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import INTERPRETERS, access_line, http_request, session_raise_frame


def mapped_files(pid: int) -> set:
    out = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/"):
                out.add(parts[5].strip())
    return out


def has_symtab(path: Path) -> bool:
    r = subprocess.run(["readelf", "-S", "-W", str(path)], capture_output=True, text=True,
                       check=True)
    return " .symtab " in r.stdout


@pytest.fixture(params=["pyenv-3.10", "pyenv-3.11", "pyenv-3.12", "pyenv-3.13"])
def stripped_interp(request, tmp_path):
    base = INTERPRETERS[request.param].require()
    lib = Path(base.python).parents[1] / "lib" / f"libpython3.{base.minor}.so.1.0"
    if not lib.exists():
        pytest.skip(f"{base.name}: {lib} not found (not a shared-libpython build)")
    if shutil.which("strip") is None:
        pytest.fail("strip (binutils) is not installed; scripts/deps.sh installs it")
    libdir = tmp_path / "stripped-lib"
    libdir.mkdir()
    copy = libdir / lib.name
    subprocess.run(["strip", "-o", str(copy), str(lib)], check=True)
    assert not has_symtab(copy)
    interp = dataclasses.replace(base, extra_env={"LD_LIBRARY_PATH": str(libdir)},
                                 _module_ok={})
    return interp, copy


def test_stripped_libpython(stripped_interp, tracers, servers):
    interp, copy = stripped_interp
    s = servers.start(interp, "mw_no_session")
    maps = mapped_files(s.pid)
    assert str(copy) in maps, f"server does not map the stripped copy {copy}: {sorted(maps)}"
    raise_frame = session_raise_frame(interp)

    t = tracers.start([s])
    tag = uuid.uuid4().hex[:8]
    paths = [f"/stripped/{i}/{tag}" for i in range(4)]
    for p in paths:
        assert http_request(s.port, p).status == 500
    t.wait_records(len(paths))
    records = t.stop()

    assert sorted(r["request"]["path"] for r in records) == sorted(paths), records
    acc_line = access_line("mw_no_session", "ReadsSession.dispatch")
    for r in records:
        assert r["pid"] == s.pid
        assert r["python"] == interp.tracer_version
        top = {k: r["stack"][0][k] for k in ("function", "file", "line")}
        assert top == {k: raise_frame[k] for k in ("function", "file", "line")}, r
        assert r["accessor"]["function"] == interp.fn("ReadsSession.dispatch"), r
        assert r["accessor"]["line"] == acc_line, r
    assert s.alive()
