"""Put on PYTHONPATH only for pyenv interpreters (see tests/integration/conftest.py).

It APPENDS Debian's dist-packages so that the interpreter's own stdlib and
site-packages keep priority, and only the pure-Python Starlette / uvicorn /
anyio / h11 that pyenv lacks are found in Debian's tree.

Exception: a pyenv 3.11 whose site-packages has pydantic 2 would break
Debian's FastAPI 0.92 (pydantic 1). Debian's packages are built for 3.11, so
on 3.11 Debian's tree goes first.
"""
import sys

_DEBIAN = "/usr/lib/python3/dist-packages"
if _DEBIAN not in sys.path:
    if sys.version_info[:2] == (3, 11):
        sites = [i for i, p in enumerate(sys.path) if p.endswith("site-packages")]
        sys.path.insert(sites[0] if sites else len(sys.path), _DEBIAN)
    else:
        sys.path.append(_DEBIAN)
