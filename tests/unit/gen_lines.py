#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Write a line-table fixture for tests/unit/test_linetable.c.

Usage: PYTHON gen_lines.py OUTPUT_FILE

Run by the CPython whose line tables are to be checked (3.10 or later). It
compiles the source of a few large stdlib modules plus a synthetic module
that forces the rare entry forms (long line jumps either way, long one-line
expressions, wide columns, far-away first lines), walks every code object
recursively through co_consts, and records, for each one, what CPython
itself says is the line of every instruction offset.

The reference is co_lines() (the (start, end, line) byte ranges that come
from the same PyCodeAddressRange walk as PyCode_Addr2Line); the script also
asks PyCode_Addr2Line() itself through ctypes and, on 3.11+, co_positions(),
and fails if any of them disagrees.

Output format (text, one record per line):
    V <sys.hexversion in hex> <version string>
    C <co_firstlineno> <len(co_code)> <co_linetable as hex, or -> <name>
    L <line of offset 0> <line of offset 2> ...   (-1 for None)
    N <code objects> <offsets>                    (last line)
On success prints "0x<hexversion>:OUTPUT_FILE" on stdout (the form that
LINETABLE_FIXTURES takes).
"""
import os
import sys
import sysconfig
import types

MODULES = [
    "argparse",
    "asyncio/base_events",
    "asyncio/tasks",
    "typing",
    "inspect",
    "email/_header_value_parser",
    "http/client",
    "tarfile",
    "pydoc",
    "dataclasses",
    "enum",
    "json/decoder",
    "subprocess",
    "unittest/case",
    "logging/__init__",
    "collections/__init__",
]
MIN_CODE_OBJECTS = 2000


def synthetic_source():
    """Source that forces every entry kind and the 3.10 split pairs."""
    src = []
    # line jumps > 127 forwards (3.10: (0, 127) pairs; 3.11+: LONG with
    # multi-byte varints)
    src.append("def gaps(x):\n    a = x\n" + "\n" * 200 +
               "    b = a + 1\n" + "\n" * 5000 + "    c = b * 2\n" +
               "    return c\n")
    # line jumps < -127 (a loop back to a header 400 lines up)
    src.append("def loop_back(n):\n    t = 0\n    for i in range(n):\n" +
               "\n" * 400 + "        t += i\n    return t\n")
    # > 254 bytes of code on one line (3.10: (254, 0) pairs)
    src.append("def long_line(a):\n    return [" +
               ", ".join("a + %d" % i for i in range(300)) + "]\n")
    # columns > 127 (LONG form)
    src.append("def wide(a):\n    x = " + "a + " * 80 + "a\n    return x\n")
    # multi-line expressions, deltas of 1, 2, 3 and more
    src.append("def multi(a, f):\n    return f(a,\n        a\n\n" +
               "        + a,\n\n\n        a)\n")
    # exception handling, with, finally: "no line" entries
    src.append("def handlers(f):\n    try:\n        with f:\n            pass\n"
               "    except (ValueError, TypeError) as e:\n"
               "        raise RuntimeError() from e\n"
               "    finally:\n        f = None\n")
    src.append("async def agen(xs):\n    async with xs as y:\n"
               "        async for v in y:\n            yield [w async for w in v]\n")
    src.append("def comp(xs):\n    return {k: [v for v in range(k) if v]\n"
               "            for k in xs}, (lambda q: q)(1), list(i for i in xs)\n")
    src.append("def matcher(p):\n    match p:\n        case [x, y, *rest]:\n"
               "            return x\n        case {'k': v}:\n            return v\n"
               "        case _:\n            return None\n")
    # a function far down a big file: large firstlineno
    src.append("\n" * 70000 + "def far_down(a):\n    return a\n")
    return "".join(src)


def sources():
    stdlib = sysconfig.get_paths()["stdlib"]
    for mod in MODULES:
        for cand in (mod + ".py", os.path.join(mod, "__init__.py")):
            path = os.path.join(stdlib, cand)
            if os.path.exists(path):
                with open(path, "rb") as f:
                    yield mod, path, f.read()
                break
        else:
            print("gen_lines: %s not found, skipped" % mod, file=sys.stderr)
    yield "synthetic", "<synthetic>", synthetic_source()


def walk(code, out):
    out.append(code)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            walk(c, out)


def addr2line_api():
    try:
        import ctypes
        f = ctypes.pythonapi.PyCode_Addr2Line
    except (ImportError, AttributeError):
        return None
    f.argtypes = [ctypes.py_object, ctypes.c_int]
    f.restype = ctypes.c_int
    return f


def lines_of(code):
    """Line per 2-byte offset from co_lines(); -1 for None or uncovered."""
    n = len(code.co_code) // 2
    lines = [-1] * n
    covered = 0
    for start, end, line in code.co_lines():
        if start != covered or end <= start or end > 2 * n:
            raise SystemExit("gen_lines: %s: odd co_lines range %r"
                             % (code.co_qualname if hasattr(code, "co_qualname")
                                else code.co_name, (start, end, line)))
        for off in range(start, end, 2):
            lines[off // 2] = -1 if line is None else line
        covered = end
    return lines, covered


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: gen_lines.py OUTPUT_FILE")
    if sys.version_info < (3, 10):
        raise SystemExit("gen_lines: needs CPython 3.10 or later (co_lines)")
    api = addr2line_api()
    codes = []
    for mod, path, src in sources():
        found = []
        walk(compile(src, path, "exec", dont_inherit=True), found)
        codes.extend((mod, c) for c in found)
    if len(codes) < MIN_CODE_OBJECTS:
        raise SystemExit("gen_lines: only %d code objects" % len(codes))

    n_off = 0
    bad = []
    out = ["V %x %s" % (sys.hexversion, sys.version.split()[0])]
    for mod, co in codes:
        lines, covered = lines_of(co)
        nbytes = len(co.co_code)
        if covered not in (0, nbytes):
            bad.append("%s: co_lines covers %d of %d bytes"
                       % (co.co_name, covered, nbytes))
        if api is not None:
            for i, want in enumerate(lines):
                got = api(co, 2 * i)
                if got != want:
                    bad.append("%s: PyCode_Addr2Line(%d) = %d, co_lines %d"
                               % (co.co_name, 2 * i, got, want))
        if hasattr(co, "co_positions"):
            for i, pos in enumerate(co.co_positions()):
                got = -1 if pos[0] is None else pos[0]
                if i < len(lines) and got != lines[i]:
                    bad.append("%s: co_positions()[%d] line %d, co_lines %d"
                               % (co.co_name, i, got, lines[i]))
        name = "%s:%s" % (mod, getattr(co, "co_qualname", co.co_name))
        table = co.co_linetable.hex() or "-"
        out.append("C %d %d %s %s" % (co.co_firstlineno, nbytes, table,
                                      name.replace(" ", "_")))
        out.append("L " + " ".join(map(str, lines)))
        n_off += len(lines)
    out.append("N %d %d" % (len(codes), n_off))
    if bad:
        for b in bad[:20]:
            print("gen_lines: " + b, file=sys.stderr)
        raise SystemExit("gen_lines: %d disagreements inside CPython" % len(bad))

    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, sys.argv[1])
    print("%s: %d code objects, %d offsets (PyCode_Addr2Line %s)"
          % (sys.version.split()[0], len(codes), n_off,
             "cross-checked" if api else "not available"), file=sys.stderr)
    print("0x%x:%s" % (sys.hexversion, sys.argv[1]))


if __name__ == "__main__":
    main()
