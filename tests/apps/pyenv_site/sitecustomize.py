"""Put on PYTHONPATH only for pyenv interpreters (see tests/integration/conftest.py).

It APPENDS Debian's dist-packages so that the interpreter's own stdlib and
site-packages keep priority, and only the pure-Python Starlette / uvicorn /
anyio / h11 that pyenv lacks are found in Debian's tree.
"""
import sys

_DEBIAN = "/usr/lib/python3/dist-packages"
if _DEBIAN not in sys.path:
    sys.path.append(_DEBIAN)
