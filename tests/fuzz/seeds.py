#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Seed corpora for the fuzz targets in tests/fuzz, taken from real processes.

Usage:
    python3 seeds.py --all OUTDIR      # driver: every interpreter found, plus ELF seeds
    PYTHON  seeds.py --one OUTDIR      # worker: seeds from the running interpreter

The driver runs the worker under Debian's python3.11 and the newest pyenv
3.10 to 3.13 (FUZZ_PYTHONS overrides the list, as LINETABLE_PYTHONS does
for tests/unit/run.sh), then writes the ELF seeds. Each worker reads its
own interpreter's memory through ctypes: the co_linetable of real code
objects, the raw PEP 393 data of real str objects of every kind, real code,
str and bytes objects (copied byte for byte into fuzz_report's arena with
their pointers relocated), and on 3.13 the real _Py_DebugOffsets at the
start of _PyRuntime. Files go to OUTDIR/<target>/<interpreter>-<what>.
Layout offsets come from user/resolve/layouts.inc (the tracer's own table).
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# Must match tests/fuzz/fuzz_common.h and fuzz_report.c.
ARENA_BASE = 0x200000000000
UNICODE_TYPE = ARENA_BASE + 0x10
ARENA_FIRST = 0x100          # objects start here
VERSION_INDEX = {10: 0, 11: 1, 12: 2, 13: 3}   # fuzz_linetable / fuzz_report selectors
EVENT_SIZE = 3264            # sizeof(struct st_event), include/sessiontrace.h
ST_MAX_FRAMES = 64
ST_STR_PRESENT, ST_STR_TRUNCATED = 1, 2
ST_EV_REQUEST, ST_EV_FRAMES_TRUNCATED, ST_EV_CLIENT = 1, 2, 4

# str values a request can carry, one or more per PEP 393 kind
STRINGS = [
    "GET", "http", "127.0.0.1", "/account/1", "",
    "SessionMiddleware must be installed to access request.session",
    "/caf\u00e9/\u00fc\u00ff", "/\x00nul/\x1b[31mred\x1b[0m/\x7f\x85\x9b",
    "/\u043f\u0443\u0442\u044c/\u4e2d\u6587/\u202eevil\u2066", "/\ud800lone/\udfff",
    "/\U0001f600/\U0010ffff/\U00020000", "\u2028\u2029\u061c\u200e",
]


def layout():
    """This interpreter's entry of user/resolve/layouts.inc, as a dict."""
    want = "0x03%02x0000" % sys.version_info[1]
    text = open(os.path.join(ROOT, "user", "resolve", "layouts.inc")).read()
    for block in re.findall(r"\{(.*?)\n\t\}", text, re.S):
        fields = dict((k, int(v, 0)) for k, v in
                      re.findall(r"\.(\w+) = (-?(?:0x[0-9a-fA-F]+|[0-9]+))\b", block))
        modes = {"DICTOFFSET": 0, "311": 1, "312": 2, "313": 3}   # enum st_attr_mode
        for m in re.findall(r"\.attr_mode = ST_ATTR_(\w+)", block):
            fields["attr_mode"] = modes[m]
        if fields.get("version_hex") == int(want, 16):
            return fields
    raise SystemExit("seeds.py: no layout for %s in user/resolve/layouts.inc" % want)


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def code_objects():
    """Real code objects: a few stdlib modules, compiled here, and gen_lines' synthetic set."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "unit"))
    import gen_lines
    out = []
    stdlib = sysconfig.get_paths()["stdlib"]
    for mod in ("argparse", "json/decoder", "enum"):
        path = os.path.join(stdlib, mod + ".py")
        if os.path.exists(path):
            gen_lines.walk(compile(open(path, "rb").read(), path, "exec"), out)
    gen_lines.walk(compile(gen_lines.synthetic_source(), "<synthetic>", "exec"), out)
    return out


def str_raw(L, s):
    """(kind, raw data bytes) of a str object, read from this process's memory."""
    import ctypes
    state = ctypes.c_uint32.from_address(id(s) + L["str_state"]).value
    kind = (state >> 2) & 7
    ascii_ = (state >> 6) & 1
    assert (state >> 5) & 1, "not a compact str"
    data = id(s) + (L["str_ascii_data"] if ascii_ else L["str_compact_data"])
    return kind, ctypes.string_at(data, len(s) * kind)


def seeds_linetable(outdir, label, minor):
    sel = VERSION_INDEX[minor]
    codes = code_objects()
    # every 40th code object, plus the synthetic ones (last): every entry form
    picked = codes[::40] + codes[-12:]
    for i, co in enumerate(picked):
        table = co.co_linetable
        n = len(co.co_code)
        addrq = (n // 2) & ~1
        write(outdir, "linetable", "%s-raw-%03d" % (label, i),
              struct.pack("<Bii", sel, co.co_firstlineno, addrq) + table)
        # the same entries in the structured mode's (3-byte) form
        ent = bytearray()
        if minor == 10:
            for j in range(0, len(table) - 1, 2):
                sd, ld = table[j], table[j + 1]
                ent += bytes((0x40 if sd == 0 else 0, sd, ld))
        else:
            j = 0
            while j < len(table):
                b = table[j]
                code, units = (b >> 3) & 15, (b & 7) + 1
                delta = 0
                if code in (13, 14):
                    v, sh, k = 0, 0, j + 1
                    while k < len(table):
                        v |= (table[k] & 63) << sh
                        sh += 6
                        k += 1
                        if not table[k - 1] & 64:
                            break
                    delta = -(v >> 1) if v & 1 else v >> 1
                ent += bytes(((units - 1) | code << 3, max(-128, min(127, delta)) & 0xff, 0))
                j += 1
                while j < len(table) and not table[j] & 0x80:
                    j += 1
        write(outdir, "linetable", "%s-entries-%03d" % (label, i),
              struct.pack("<Bi", 0x80 | sel, co.co_firstlineno) + bytes(ent))
    # near the int limits
    co = codes[-1]
    for first in (0x7ffffff0, -0x7ffffff0, 0):
        write(outdir, "linetable", "%s-first-%x" % (label, first & 0xffffffff),
              struct.pack("<Bii", sel, first, 0) + co.co_linetable)


def seeds_pystr_escape(outdir, label, L, codes):
    values = list(STRINGS)
    values += [co.co_filename for co in codes[:3]] + [co.co_name for co in codes[:50:10]]
    values += sys.path[:3]
    for i, s in enumerate(values):
        kind, raw = str_raw(L, s)
        ksel = {1: 0, 2: 1, 4: 2}[kind]
        full = len(s) * 4 + 1
        for j, outsz in enumerate((full, 1, 2, 3, 4, 5, 7, max(1, full // 3))):
            small = 0x80 if outsz < 32 else 0
            write(outdir, "pystr", "%s-str%02d-k%d-%d" % (label, i, kind, j),
                  struct.pack("<BH", ksel | small, outsz) + raw)
        # the raw str bytes as text are often not UTF-8: good JSON/terminal input
        write(outdir, "escape", "%s-raw%02d-k%d" % (label, i, kind), bytes((len(raw) // 2 & 0xff,)) + raw)
        u8 = s.encode("utf-8", "surrogatepass")
        write(outdir, "escape", "%s-utf8-%02d" % (label, i), bytes((len(u8) // 2 & 0xff,)) + u8)
        # label values: the same text as a service name or route template would hold it
        write(outdir, "promfmt", "%s-utf8-%02d" % (label, i), u8)
        write(outdir, "promfmt", "%s-raw%02d-k%d" % (label, i, kind), raw)
    for i, route in enumerate(("/items/{item_id:int}", "/api/me", "<unmatched>", 'a"b\\c\nd',
                               "main:app", "__overflow__")):
        write(outdir, "promfmt", "%s-route%02d" % (label, i), route.encode())


def seeds_debugoffsets(outdir, label, minor):
    import ctypes
    ver = sys.hexversion
    try:
        addr = ctypes.addressof(ctypes.c_char.in_dll(ctypes.pythonapi, "_PyRuntime"))
    except (ValueError, AttributeError):
        return
    blob = ctypes.string_at(addr, 2560)  # > struct debug_offsets (user/resolve/debugoffsets.h)
    for errsel in (0, 1, 3):
        write(outdir, "debugoffsets", "%s-runtime-e%d" % (label, errsel),
              struct.pack("<IB", ver, errsel) + blob)
    if minor == 13:
        # the same blob claimed by another version, and cut short
        write(outdir, "debugoffsets", "%s-runtime-as314" % label,
              struct.pack("<IB", 0x030e0000, 0) + blob)
        write(outdir, "debugoffsets", "%s-runtime-short" % label,
              struct.pack("<IB", ver, 0) + blob[:300])


class Arena:
    """fuzz_report's arena: real objects copied at their future addresses."""

    def __init__(self, L):
        self.L = L
        self.buf = bytearray(ARENA_FIRST)
        self.seen = {}

    def put(self, raw):
        while len(self.buf) % 16:
            self.buf.append(0)
        off = len(self.buf)
        self.buf += raw
        return off

    def obj(self, o, patch_type=None):
        import ctypes
        if id(o) in self.seen:
            return self.seen[id(o)]
        raw = bytearray(ctypes.string_at(id(o), sys.getsizeof(o)))
        if patch_type is not None:
            struct.pack_into("<Q", raw, 8, patch_type)
        addr = ARENA_BASE + self.put(raw)
        self.seen[id(o)] = addr
        return addr

    def code(self, co):
        import ctypes
        L = self.L
        if id(co) in self.seen:
            return self.seen[id(co)]
        name_off = L["code_qualname"] if L["code_qualname"] >= 0 else L["code_name"]
        fields = (L["code_filename"], L["code_name"], L["code_qualname"], L["code_firstlineno"],
                  L["code_linetable"])
        need = max(fields) + 8
        raw = bytearray(ctypes.string_at(id(co), need))
        name = co.co_qualname if L["code_qualname"] >= 0 else co.co_name
        struct.pack_into("<Q", raw, name_off, self.obj(name, UNICODE_TYPE))
        struct.pack_into("<Q", raw, L["code_filename"], self.obj(co.co_filename, UNICODE_TYPE))
        struct.pack_into("<Q", raw, L["code_linetable"], self.obj(co.co_linetable))
        addr = ARENA_BASE + self.put(raw)
        self.seen[id(co)] = addr
        return addr


def str_field(L, s, cap):
    """(st_str_hdr, data) as the BPF program copies a str: raw, bounded."""
    if s is None:
        return struct.pack("<IHBB", 0, 0, 0, 0), b""
    kind, raw = str_raw(L, s)
    flags = ST_STR_PRESENT
    n = min(len(raw), cap - cap % kind)
    if n < len(raw):
        flags |= ST_STR_TRUNCATED
    return struct.pack("<IHBB", len(s), n, kind, flags), raw[:n]


def event(L, minor, arena, frames, pattern=0, exc_kind=0, path="/account/1", flags=None,
          msg="SessionMiddleware must be installed to access request.session"):
    """A struct st_event as the BPF program fills it, frames innermost first."""
    if flags is None:
        flags = ST_EV_REQUEST | ST_EV_CLIENT
    fields = [(msg, 128), ("http", 64), ("GET", 64), (path, 1024), ("", 256), ("127.0.0.1", 64)]
    hdrs, datas = b"", []
    for s, cap in fields:
        h, d = str_field(L, s, cap)
        hdrs += h
        datas.append(d.ljust(cap, b"\0"))
    msg_d, type_d, method_d, path_d, root_d, client_d = datas
    ev = struct.pack("<QIIQ16sIIIIIIQQ", 123456789000, os.getpid(), os.getpid(), 0,
                     b"python3.%d" % minor, flags, len(frames), 52710, pattern, exc_kind, 0,
                     0, 0)
    ev += hdrs + msg_d + type_d + method_d + client_d + root_d + path_d
    for co, lasti in frames[:ST_MAX_FRAMES]:
        # relative to the arena: fuzz_report adds the base to values < 2^32
        code = arena.code(co) - ARENA_BASE
        if L["code_adaptive"] >= 0:
            instr = code + L["code_adaptive"] + lasti
        else:
            instr = (lasti // 2) & 0xffffffff   # <= 3.10: f_lasti (int) in code units
        ev += struct.pack("<QQQ", code, instr, 0)
    ev = ev.ljust(EVENT_SIZE, b"\0")
    assert len(ev) == EVENT_SIZE
    return ev


def seeds_report(outdir, label, minor, L):
    sel = VERSION_INDEX[minor]
    # a real starlette-shaped property that asserts, from "its" file
    src = ("class HTTPConnection:\n"
           "    @property\n"
           "    def session(self):\n"
           "        import sys\n"
           "        return [(f.f_code, f.f_lasti) for f in _stack(sys._getframe())]\n"
           "def _stack(f):\n"
           "    out = []\n"
           "    while f is not None:\n"
           "        out.append(f)\n"
           "        f = f.f_back\n"
           "    return out\n")
    ns = {}
    exec(compile(src, "/usr/lib/python3/dist-packages/starlette/requests.py", "exec"), ns)
    app = ("def dispatch(conn):\n"
           "    return conn.session\n")
    exec(compile(app, "/srv/app/\u00e9\x1b[2Jmain.py", "exec"), ns)

    def frames_from(fn):
        return fn(ns["HTTPConnection"]())

    frames = frames_from(ns["dispatch"])
    header = bytes((sel, 7)) + b"main:app".ljust(32, b"\0")
    variants = [
        ("session", dict(pattern=0)),
        ("auth", dict(pattern=1, msg="AuthenticationMiddleware must be installed to access request.auth")),
        ("assert", dict(pattern=3)),
        ("keyerror", dict(pattern=0, exc_kind=1)),
        ("noreq", dict(pattern=0, flags=0)),
        ("trunc", dict(pattern=0, flags=ST_EV_REQUEST | ST_EV_FRAMES_TRUNCATED,
                       path="/" + "\u4e2d" * 600)),
    ]
    for i, s in enumerate(STRINGS):
        variants.append(("path%02d" % i, dict(pattern=0, path=s)))
    for name, kw in variants:
        arena = Arena(L)
        ev = event(L, minor, arena, frames, **kw)
        write(outdir, "report", "%s-%s" % (label, name), header + ev + bytes(arena.buf))
    # a deep stack of distinct real code objects (the compiled stdlib ones)
    arena = Arena(L)
    deep = [(co, 0) for co in code_objects()[:ST_MAX_FRAMES]]
    write(outdir, "report", "%s-deep" % label,
          header + event(L, minor, arena, deep) + bytes(arena.buf))


# fuzz_pyobj: must match its FZ_*_TYPE constants
# (real type objects are copied to these fixed places)
PYOBJ_TYPES = {"str": ARENA_BASE + 0x1000, "tuple": ARENA_BASE + 0x1400,
               "dict": ARENA_BASE + 0x1800}
PYOBJ_FIRST = 0x1c00
PYOBJ_OPS = ("dict_get", "attr", "str", "str_eq", "int", "items", "type_name", "type_tpname",
             "mro", "is_none", "deref_cell", "code_first_arg", "module_attr")


class Snapshot:
    """Memory ranges of real objects, copied into the arena with every word that
    points into a copied range relocated: no layout knowledge needed beyond
    where each object's out-of-line parts (dict keys, values) start."""

    def __init__(self, L):
        self.L = L
        self.mem = open("/proc/self/mem", "rb", buffering=0)
        self.ranges = []        # (orig_start, bytes)

    def read(self, addr, n):
        try:
            return os.pread(self.mem.fileno(), n, addr)
        except OSError:
            return b""

    def add(self, addr, n):
        if not addr or n <= 0:
            return
        for a, b in self.ranges:
            if a <= addr and addr + n <= a + len(b):
                return
        data = self.read(addr, n)
        if data:
            self.ranges.append((addr, data))

    def word(self, addr):
        b = self.read(addr, 8)
        return struct.unpack("<Q", b)[0] if len(b) == 8 else 0

    def keys_obj(self, keys):
        L = self.L
        if not keys:
            return
        head = self.read(keys, max(L["dk_indices"], 1))
        if len(head) < L["dk_indices"]:
            return
        if L["dk_size"] >= 0:
            size = struct.unpack_from("<q", head, L["dk_size"])[0]
            if not 0 < size <= 1 << 16:
                return
            ib = 1 if size <= 0xff else 2 if size <= 0xffff else 4
            n = L["dk_indices"] + size * ib + 24 * (2 * size // 3 + 1)
        else:
            lg, lgi, kind = head[L["dk_log2_size"]], head[L["dk_log2_index_bytes"]], head[L["dk_kind"]]
            if lg > 16 or lgi > 18:
                return
            usable = (2 << lg) // 3
            n = L["dk_indices"] + (1 << lgi) + (16 if kind else 24) * usable
        self.add(keys, n)

    def obj(self, o, depth=2):
        L = self.L
        a = id(o)
        self.add(a - 48, sys.getsizeof(o) + 48 + 64)   # GC header, managed pointers, inline values
        if isinstance(o, str):
            return
        t = type(o)
        self.add(id(t), sys.getsizeof(t))
        tpname = self.word(id(t) + L["type_name"]) if L["type_name"] >= 0 else 0
        self.add(tpname, 64)
        if isinstance(o, dict):
            self.keys_obj(self.word(a + L["dict_keys"]))
            vals = self.word(a + L["dict_values"])
            self.add(vals - 16, 16 + 8 * (len(o) + 8))
            for k, v in list(o.items())[:16]:
                self.obj(k, depth - 1)
                if depth > 0:
                    self.obj(v, depth - 1)
        elif isinstance(o, (tuple, list)):
            if isinstance(o, list):
                self.add(self.word(a + L["list_items"]), 8 * len(o))
            if depth > 0:
                for v in o[:16]:
                    self.obj(v, depth - 1)
        elif isinstance(o, type):
            self.keys_obj(self.word(a + L["type_cached_keys"]))
            for part in ("type_dict", "type_mro", "ht_qualname"):
                if L.get(part, -1) >= 0:
                    p = self.word(a + L[part])
                    if p:
                        self.add(p - 16, 256)
            if depth > 0:
                for b in o.__mro__[:4]:
                    self.obj(b, depth - 1)
        elif hasattr(o, "__dict__") and not isinstance(o, types.ModuleType):
            self.obj(t, depth)
            if L["attr_mode"] == 0:
                self.obj(vars(o), depth)   # <= 3.10: a real __dict__ already
            if L["managed_values"] and L["attr_mode"] == 1:
                self.add(self.word(a + L["managed_values"]) - 16, 16 + 8 * 32)
            if L["managed_dict"]:
                w = self.word(a + L["managed_dict"])
                self.add((w & ~1) - 16, 16 + 8 * 32)
            for v in list(vars(o).values())[:8] if depth > 0 and L["attr_mode"] == 0 else []:
                self.obj(v, depth - 1)

    def image(self):
        """(arena bytes, {orig addr: arena addr} function)."""
        buf = bytearray(PYOBJ_FIRST)
        place = []
        for t in (str, tuple, dict):
            raw = self.read(id(t), min(sys.getsizeof(t), 0x400))
            off = PYOBJ_TYPES[t.__name__] - ARENA_BASE
            buf[off:off + len(raw)] = raw
            place.append((id(t), len(raw), off))
            self.add(self.word(id(t) + self.L["type_name"]), 32)
        for a, b in sorted(self.ranges):
            while len(buf) % 16:
                buf.append(0)
            place.append((a, len(b), len(buf)))
            buf += b
        def reloc(v):
            for a, n, off in place:
                if a <= v < a + n:
                    return ARENA_BASE + off + (v - a)
            return None

        for a, n, off in place:
            # objects are 8-byte aligned there and 16 here: same word boundaries
            for j in range(off, off + n - 7, 8):
                v = struct.unpack_from("<Q", buf, j)[0]
                r = reloc(v) if v > 4096 else None
                if r is not None:
                    struct.pack_into("<Q", buf, j, r)
        return bytes(buf), reloc


def seeds_pyobj(outdir, label, minor, L):
    sel = VERSION_INDEX[minor]

    class Request:
        def __init__(self, scope):
            self.scope = scope
            self.app = None
            self._receive = 7

    class Sub(Request):
        pass

    scope = {"type": "http", "method": "GET", "path": "/caf\u00e9/\u4e2d", "root_path": "",
             "client": ("127.0.0.1", 52710), "app": None, "state": {"k": -(1 << 40)},
             "headers": [(b"host", b"x")]}
    req = Sub(scope)
    req.app = req
    cell = (lambda: scope).__closure__[0]
    objs = [("scope", scope, ("path", "type", "client", "missing", "state")),
            ("req", req, ("scope", "app", "_receive", "nope")),
            ("client", scope["client"], ("",)), ("num", 1 << 62, ("",)), ("neg", -12345, ("",)),
            ("cls", Sub, ("",)), ("none", None, ("",)), ("cell", cell, ("",)),
            ("str4", "/\U0001f600", ("/\U0001f600",)), ("str2", "\u4e2d", ("",)),
            ("code", Request.__init__.__code__, ("self", "scope"))]
    for name, o, keys in objs:
        snap = Snapshot(L)
        snap.obj(o)
        for k in keys:
            # attribute names: the interned str objects the instance's keys use
            snap.obj(sys.intern(k))
            if name == "req" and hasattr(o, k):
                snap.obj(getattr(o, k), 1)
        if isinstance(o, type(Request.__init__.__code__)):
            snap.add(id(o), 256)
            names = o.co_varnames
            snap.obj(names)
        arena, reloc = snap.image()
        addr = reloc(id(o))
        if addr is None:
            continue
        for op, opname in enumerate(PYOBJ_OPS):
            for key in keys:
                k = key.encode("utf-8")[:15].ljust(16, b"\0")
                tag = re.sub(r"[^A-Za-z0-9_]", "_", key) or "-"
                write(outdir, "pyobj", "%s-%s-%s-%s" % (label, name, opname, tag),
                      struct.pack("<BB16sQ", sel | 40 << 2, op, k, addr) + arena)


def worker(outdir):
    minor = sys.version_info[1]
    if sys.version_info[0] != 3 or minor not in VERSION_INDEX:
        raise SystemExit("seeds.py: Python 3.10 to 3.13 only")
    label = "py%d.%d.%d-%s" % (sys.version_info[:3] + (
        "system" if sys.executable.startswith("/usr/") else "pyenv",))
    L = layout()
    seeds_linetable(outdir, label, minor)
    seeds_pystr_escape(outdir, label, L, code_objects())
    seeds_debugoffsets(outdir, label, minor)
    seeds_report(outdir, label, minor, L)
    seeds_pyobj(outdir, label, minor, L)
    print("seeds.py: %s: done" % label, file=sys.stderr)


def elf_seeds(outdir):
    """Small real ELF files, and the tiny stripped-3.13-shaped .so built here."""
    cands = ["/bin/true", "/usr/lib/x86_64-linux-gnu/libdl.so.2"]
    pyenv = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    for m in (10, 11, 12, 13):
        for v in sorted(os.listdir(os.path.join(pyenv, "versions"))) if os.path.isdir(
                os.path.join(pyenv, "versions")) else []:
            exe = os.path.join(pyenv, "versions", v, "bin", "python3.%d" % m)
            if v.startswith("3.%d." % m) and os.path.exists(exe):
                cands.append(exe)
    for path in cands:
        if os.path.exists(path) and os.path.getsize(path) <= 64 * 1024:
            write(outdir, "elfsym", path.strip("/").replace("/", "_"), open(path, "rb").read())
    tmp = os.path.join(outdir, "tmp-elf")
    os.makedirs(tmp, exist_ok=True)
    so = os.path.join(tmp, "pyerr.so")
    cc = os.environ.get("CC", "gcc")
    subprocess.run([cc, "-O2", "-fno-toplevel-reorder", "-fPIC", "-shared", "-o", so,
                    os.path.join(HERE, "seed_pyerr.c")], check=True)
    shutil.copy(so, so + ".stripped")
    subprocess.run(["strip", so + ".stripped"], check=True)
    for p in (so, so + ".stripped"):
        write(outdir, "elfsym", os.path.basename(p), open(p, "rb").read())
    shutil.rmtree(tmp)


def pythons():
    spec = os.environ.get("FUZZ_PYTHONS", "/usr/bin/python3.11 3.10 3.11 3.12 3.13").split()
    pyenv = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    for s in spec:
        if s.startswith("/"):
            if os.access(s, os.X_OK):
                yield s
            else:
                print("seeds.py: SKIPPED %s: not found" % s, file=sys.stderr)
            continue
        found = None
        vdir = os.path.join(pyenv, "versions")
        for v in sorted(os.listdir(vdir)) if os.path.isdir(vdir) else []:
            exe = os.path.join(vdir, v, "bin", "python" + s)
            if v.startswith(s + ".") and os.access(exe, os.X_OK):
                found = exe
        if found:
            yield found
        else:
            print("seeds.py: SKIPPED Python %s: not found" % s, file=sys.stderr)


def identity_seeds(outdir):
    """fuzz_identity: this host's own cgroup files, and the paths the kubelet
    and the container runtimes make (both drivers, v1 and v2, /../..)."""
    uid = "1b2c3d4e-5f60-4a7b-8c9d-0e1f2a3b4c5d"
    cid = "0123456789abcdef" * 4
    texts = {
        "systemd-containerd": "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod"
                              f"{uid.replace('-', '_')}.slice/cri-containerd-{cid}.scope\n",
        "systemd-crio": f"0::/kubepods.slice/kubepods-pod{uid.replace('-', '_')}.slice/crio-{cid}.scope\n",
        "cgroupfs-v1": f"12:pids:/kubepods/besteffort/pod{uid}/{cid}\n11:memory:/kubepods/besteffort/"
                       f"pod{uid}/{cid}\n1:name=systemd:/\n",
        "docker": f"0::/system.slice/docker-{cid}.scope\n",
        "namespaced": f"0::/../../kubepods/burstable/pod{uid}/{cid}\n",
        "podman": f"0::/machine.slice/libpod-{cid}.scope/container\n",
    }
    for name, text in texts.items():
        write(outdir, "identity", name, text.encode())
    for pid in ("self", "1"):
        try:
            with open(f"/proc/{pid}/cgroup", "rb") as f:
                write(outdir, "identity", f"proc-{pid}", f.read())
        except OSError:
            pass


def sockdiag_seeds(outdir):
    """fuzz_sockdiag: each datagram of real sock_diag dumps of this host's
    sockets in LISTEN (TCP v4, v6, Unix with names; a few of each are opened
    here so that none is empty), after the byte that chooses max."""
    import socket
    NETLINK_SOCK_DIAG, SOCK_DIAG_BY_FAMILY, TCP_LISTEN = 4, 20, 10
    NLM_F_REQUEST, NLM_F_DUMP, UDIAG_SHOW_NAME = 1, 0x300, 1
    held = []
    for fam, addr in ((socket.AF_INET, ("127.0.0.1", 0)), (socket.AF_INET6, ("::1", 0))):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.bind(addr)
        s.listen()
        held.append(s)
    u = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    u.bind("\0st-seed-%d" % os.getpid())
    u.listen()
    held.append(u)
    reqs = {
        # inet_diag_req_v2: family, protocol, ext, pad, states, then a zero sockid (48)
        "tcp4": struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0,
                            1 << TCP_LISTEN) + bytes(48),
        "tcp6": struct.pack("=BBBBI", socket.AF_INET6, socket.IPPROTO_TCP, 0, 0,
                            1 << TCP_LISTEN) + bytes(48),
        # unix_diag_req: family, protocol, pad, states, ino, show, cookie[2]
        "unix": struct.pack("=BBHIII", socket.AF_UNIX, 0, 0, 1 << TCP_LISTEN, 0,
                            UDIAG_SHOW_NAME) + bytes(8),
    }
    n = 0
    for name, body in reqs.items():
        nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
        nl.settimeout(2)
        nl.sendto(struct.pack("=IHHII", 16 + len(body), SOCK_DIAG_BY_FAMILY,
                              NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body, (0, 0))
        done = False
        i = 0
        while not done:
            d = bytearray(nl.recv(32768))
            done = not d
            off = 0
            while off + 16 <= len(d):
                ln, typ = struct.unpack_from("=IH", d, off)
                if typ in (2, 3) or ln < 16:  # NLMSG_ERROR, NLMSG_DONE
                    done = True
                    break
                # the inode (inet_diag_msg: at 68; unix_diag_msg: at 4) made one of
                # those fuzz_sockdiag asks for (1..10): the matching code runs too
                at = off + 16 + (4 if name == "unix" else 68)
                if at + 4 <= off + ln:
                    struct.pack_into("=I", d, at, 1 + (off // 4) % 10)
                off += (ln + 3) & ~3
            write(outdir, "sockdiag", "%s-%02d" % (name, i), bytes((i % 8 or 4,)) + bytes(d))
            i += 1
            n += 1
        nl.close()
    for s in held:
        s.close()
    print("seeds.py: sockdiag: %d datagrams" % n, file=sys.stderr)


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("--all", "--one"):
        raise SystemExit(__doc__)
    outdir = sys.argv[2]
    if sys.argv[1] == "--one":
        worker(outdir)
        return
    tmp = outdir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    n = 0
    for py in pythons():
        subprocess.run([py, os.path.abspath(__file__), "--one", tmp], check=True,
                       env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        n += 1
    if not n:
        raise SystemExit("seeds.py: no interpreter found")
    elf_seeds(tmp)
    sockdiag_seeds(tmp)
    identity_seeds(tmp)
    shutil.rmtree(outdir, ignore_errors=True)
    os.replace(tmp, outdir)
    counts = ", ".join("%s %d" % (d, len(os.listdir(os.path.join(outdir, d))))
                       for d in sorted(os.listdir(outdir)))
    print("seeds.py: %d interpreters; %s" % (n, counts), file=sys.stderr)


if __name__ == "__main__":
    main()
