#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Real bytecode for tests/unit/test_bytecode.c (bytecode__attr_reads,
bytecode__call_attr_reads).

Usage:
    python3 tests/unit/gen_bytecode.py --all > tests/unit/bytecode_cases.inc
    PYTHON - --one LABEL < gen_bytecode.py    # worker: this interpreter's cases, JSON

The driver runs the worker (fed on stdin, so a chroot needs no copy of it)
under every interpreter of BYTECODE_PYTHONS (default: the list
tests/unit/run.sh uses for line tables: Debian's python3.11, the newest
pyenv 3.10 to 3.13, and the trixie/sid interpreters of scripts/rootfs.sh,
run with chroot as tests/integration/conftest.py does), with PYTHON_JIT=1,
and writes the C initializers; it fails unless every minor version 3.10
to 3.15 gave its cases.

Each worker compiles SOURCE (endpoints, a middleware's dispatch, a FastAPI
dependency, aliases, negatives, a function of more than 256 arguments,
locals and names, a loop; and for bytecode__call_attr_reads a pure ASGI
middleware's __call__ doing request = Request(scope), the forms of a call
and negatives) and runs every function 1000 times with fake requests so
that 3.11+ specializes it, then dumps for each function:
  - co_code, and on 3.11+ code._co_code_adaptive (specialized LOAD_ATTR_*
    with caches holding live values); on 3.12+ also the adaptive code while
    sys.monitoring CALL/PY_START/PY_RETURN events are on (INSTRUMENTED_CALL
    ..., still analyzable) and while LINE events are on (INSTRUMENTED_LINE:
    must be refused); on a JIT build (3.14+ with PYTHON_JIT=1) the loop's
    ENTER_EXECUTOR;
  - the local index of `request`, the co_names index of `session`; for the
    call samples the co_names index of `Request` (callee, else -1);
  - the expected reads: code-unit offsets found by a reference scan over
    dis.get_instructions() (decoded by the interpreter itself), whose lines
    (co_lines) must be exactly the lines SOURCE marks `# READ`;
  - co_linetable and co_firstlineno, so the test maps offsets to lines
    with linetable__addr2line;
  - the opcode table as the interpreter's own opcode/dis modules see it
    (number, base, caches), which the test compares with bytecode.inc.
The caches of the adaptive code hold live values (counters, type versions,
pointers): every run writes other bytes, and every run's must pass.
"""
import json
import os
import subprocess
import sys

ROOTFS = os.environ.get("ST_ROOTFS", "/var/cache/sessiontrace/rootfs")
DEFAULT_PYTHONS = ("/usr/bin/python3.11 3.10 3.11 3.12 3.13 "
                   "{r}/trixie:/usr/bin/python3.13 {r}/sid:/usr/bin/python3.13 "
                   "{r}/sid:/usr/bin/python3.14 {r}/sid:/usr/bin/python3.15").format(r=ROOTFS)
RUNS = 1000
FILENAME = "<st-bytecode-samples>"
WIDE = 300   # > 256: locals, arguments and names that need EXTENDED_ARG

SOURCE = '''
class Session(dict):
    pass


class State:
    session = None


class Request:
    def __init__(self, scope=None, receive=None):
        self.session = Session(u=1)
        self.sessions = {}
        self.state = State()


class PropRequest:
    def __init__(self):
        self._s = Session(u=1)

    @property
    def session(self):
        return self._s


class SlotRequest:
    __slots__ = ("session",)

    def __init__(self):
        self.session = Session(u=1)


class MethRequest:
    def session(self):
        return 1


class Db:
    session = Session()


def check(a, b):
    return b


async def endpoint(request):
    return request.session.get("u")  # READ


class AuthMiddleware:
    async def dispatch(self, request, call_next):
        if request.session.get("user") is None:  # READ
            request.session["user"] = 1  # READ
        response = await call_next(request)
        return response


def dep(db, request):
    user = check(db, request.session)  # READ
    check(request, db.session)
    return user


def alias(request, other):
    r = request
    s = r.session  # READ
    r = other
    t = r.session
    r = request
    return s, t, r.session  # READ


def negatives(self, request, db):
    a = self.session
    b = db.session
    c = request.state.session
    session = b
    d = session.get("u")
    e = request.sessions
    f = getattr(request, "session")
    request.session = f
    return a, c, d, e


def subscript(request):
    request.session["x"] = 1  # READ
    del request.session["x"]  # READ
    return request.session.pop("y", None)  # READ


def method_call(request):
    return request.session()  # READ


def looped(request, n):
    t = 0
    for i in range(n):
        t += i
    return request.session, t  # READ


def closure(request):
    def inner():
        return request
    return request.session, inner


class Other(Request):
    pass


def make(scope):
    return scope


class SessionMiddleware:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        request = Request(scope)
        if request.session.get("user") is None:  # READ
            request.session["user"] = 1  # READ
        r = request
        user = r.session.get("user")  # READ
        first = Request(scope).session  # READ
        await self.app(scope, receive, send)
        return user, first


def call_forms(scope, receive):
    a = Request(scope=scope).session  # READ
    b = Request(scope, receive).session  # READ
    c = Request(scope, 1).session.get("u")  # READ
    d = Request(scope, receive=receive).session  # READ
    Request().session["x"] = 1  # READ
    request = Request(receive=receive, scope=scope)
    return a, b, c, d, request.session  # READ


def call_negatives(scope, other):
    a = Other(scope).session
    b = Request(make(scope)).session
    c = check(Request, scope).session
    request = Request(scope)
    d = request.state.session
    x = Request(scope)
    x = other
    e = x.session
    q = r = Request(scope)
    f = Request(scope).sessions
    g = Request.session if scope is None else None  # the class's own attribute
    return a, b, c, d, e, f, g, q.session, r.session
'''


def wide_source():
    """A function whose request is argument WIDE, whose session is name WIDE
    and whose alias r is local 2 * WIDE + 1: EXTENDED_ARG everywhere, in
    little code (unpacking stores, one code unit each) with short columns
    (a small line table)."""
    def wrapped(fmt):
        names = [fmt % i for i in range(WIDE)]
        return ",\n".join("        " + ", ".join(names[i:i + 10]) for i in range(0, WIDE, 10))

    args = ", ".join("a%d" % i for i in range(WIDE))
    return ("\n\ndef wide(%s, request):\n    global %s\n    (\n%s) = range(%d)\n"
            "    s = request.session  # READ\n    (\n%s) = range(%d)\n"
            "    r = request\n    u = r.session  # READ\n    return s, u, v0\n"
            % (args, ", ".join("g%d" % i for i in range(WIDE)), wrapped("g%d"), WIDE,
               wrapped("v%d"), WIDE))


# --------------------------------------------------------------------------
# worker
# --------------------------------------------------------------------------

LOADS = {"LOAD_FAST", "LOAD_FAST_CHECK", "LOAD_FAST_AND_CLEAR", "LOAD_FAST_BORROW"}
LOADS2 = {"LOAD_FAST_LOAD_FAST", "LOAD_FAST_BORROW_LOAD_FAST_BORROW"}
CONSTS = {"LOAD_CONST", "LOAD_SMALL_INT"}
CALL_PREP = {"PUSH_NULL", "KW_NAMES", "PRECALL"}
CALLS = {"CALL_FUNCTION", "CALL"}
CALLS_KW = {"CALL_FUNCTION_KW", "CALL_KW"}   # the names tuple above the arguments


def reference_reads(co, local, attr, callee=None):
    """bytecode.h's definition of a read, on the interpreter's own decoding
    (dis: base instructions, EXTENDED_ARG folded into arg, caches skipped):
    of local (bytecode__attr_reads), or, local None, of what a call of
    global callee returns (bytecode__call_attr_reads)."""
    import dis
    top, aliases, out = False, set(), []
    pending = None   # the values the arguments pushed since a load of callee

    def var(x):
        return x == local or x in aliases

    def store(x, on):
        if x != local:
            (aliases.add if on else aliases.discard)(x)

    for ins in dis.get_instructions(co):
        op = ins.opname
        if op == "EXTENDED_ARG":
            continue
        prev, top = top, False
        was, pending = pending, None
        if was is not None and op in LOADS | LOADS2 | CONSTS | CALL_PREP:
            pending = was + (2 if op in LOADS2 else 0 if op in CALL_PREP else 1)
        if op in LOADS:
            top = var(ins.arg)
        elif op in LOADS2:
            top = var(ins.arg & 15)
        elif op in ("LOAD_GLOBAL", "LOAD_NAME"):
            pending = 0 if callee is not None and ins.argval == callee else None
        elif op in CALLS:
            top = was is not None and was == ins.arg
        elif op in CALLS_KW:
            top = was is not None and was == ins.arg + 1
        elif op == "STORE_FAST":
            store(ins.arg, prev)
        elif op == "STORE_FAST_LOAD_FAST":
            store(ins.arg >> 4, prev)
            top = var(ins.arg & 15)
        elif op == "STORE_FAST_STORE_FAST":
            store(ins.arg >> 4, prev)
            store(ins.arg & 15, False)
        elif op in ("LOAD_ATTR", "LOAD_METHOD") and prev and ins.argval == attr:
            out.append(ins.offset // 2)
    return out


def line_of(co, offset):
    for start, end, line in co.co_lines():
        if start <= offset < end:
            return -1 if line is None else line
    return -1


def marked_lines(src, co):
    first = co.co_firstlineno
    lines = src.split("\n")
    # the function's body: up to the next line at its own indentation or less
    indent = len(lines[first - 1]) - len(lines[first - 1].lstrip())
    out, i = [], first
    while i < len(lines) and (not lines[i].strip() or
                              len(lines[i]) - len(lines[i].lstrip()) > indent):
        if lines[i].rstrip().endswith("# READ"):
            out.append(i + 1)
        i += 1
    return out


def run_coro(c):
    try:
        c.send(None)
    except StopIteration as e:
        return e.value
    raise SystemExit("gen_bytecode: a sample coroutine suspended")


def drivers(ns):
    """How to call each sample, its code object, and the global whose call
    results it reads (None: the local `request`)."""
    async def call_next(request):
        return 1

    async def app(scope, receive, send):
        return 1

    R, P, S, M = ns["Request"], ns["PropRequest"], ns["SlotRequest"], ns["MethRequest"]
    mw, db = ns["AuthMiddleware"](), ns["Db"]()
    smw = ns["SessionMiddleware"](app)
    wide_args = [None] * WIDE
    return [
        ("endpoint", ns["endpoint"], lambda f: run_coro(f(P())), None),
        ("AuthMiddleware.dispatch", ns["AuthMiddleware"].dispatch,
         lambda f: run_coro(f(mw, S(), call_next)), None),
        ("dep", ns["dep"], lambda f: f(db, R()), None),
        ("alias", ns["alias"], lambda f: f(P(), R()), None),
        ("negatives", ns["negatives"], lambda f: f(db, R(), db), None),
        ("subscript", ns["subscript"], lambda f: f(R()), None),
        ("method_call", ns["method_call"], lambda f: f(M()), None),
        ("looped", ns["looped"], lambda f: f(R(), 2000), None),
        ("closure", ns["closure"], lambda f: f(R()), None),
        ("wide", ns["wide"], lambda f: f(*wide_args, R()), None),
        ("SessionMiddleware.__call__", ns["SessionMiddleware"].__call__,
         lambda f: run_coro(f(smw, {"type": "http"}, None, None)), "Request"),
        ("call_forms", ns["call_forms"], lambda f: f({"type": "http"}, None), "Request"),
        ("call_negatives", ns["call_negatives"], lambda f: f(R(), R()), "Request"),
    ]


def opcode_table():
    """(number, base, caches, name) of every opcode this interpreter's
    opcode and dis modules know below 256."""
    import dis
    import opcode
    names = dict((n, o) for n, o in opcode.opmap.items() if o < 256)
    spec = getattr(opcode, "_specialized_opmap", None)
    if spec is None:
        spec = dict((n, o) for n, o in getattr(dis, "_all_opmap", {}).items() if o < 256)
    names.update(spec)
    deopt = getattr(dis, "deoptmap", {})
    ice = getattr(opcode, "_inline_cache_entries", None)
    rows = []
    for name, num in sorted(names.items(), key=lambda kv: kv[1]):
        base = deopt.get(name, name)
        if name.startswith("INSTRUMENTED_"):
            base = name[len("INSTRUMENTED_"):]
        elif name == "ENTER_EXECUTOR":
            base = "JUMP_BACKWARD"   # bytecode.h: the instruction it replaced
        b = names.get(base, -2)      # LINE, INSTRUCTION, TRACE_RECORD: opaque
        if name == "TRACE_RECORD":
            b = -2
        if ice is None or b < 0:
            c = 0
        elif isinstance(ice, (list, tuple)):   # 3.11, 3.12: by number
            c = ice[b]
        else:                                  # a (3.15: frozen) dict by name
            c = ice.get(base, 0)
        rows.append((num, b, c, name))
    return rows


def raw_ops(co, raw):
    """The byte at each instruction of co (base decoding) in raw."""
    import dis
    return [raw[i.offset] for i in dis.get_instructions(co)]


def specialized_at(co, offsets):
    import dis
    if sys.version_info < (3, 11):
        return []
    by = dict((i.offset // 2, i.opname) for i in dis.get_instructions(co, adaptive=True))
    return [by.get(o, "?") for o in offsets]


def specialized_calls(co):
    """The specialized forms of the loads of globals and the calls in the
    adaptive code of co (3.11+)."""
    import dis
    if sys.version_info < (3, 11):
        return set()
    base = dict((i.offset, i.opname) for i in dis.get_instructions(co))
    return set(i.opname for i in dis.get_instructions(co, adaptive=True)
               if base.get(i.offset) in CALLS | CALLS_KW | {"LOAD_GLOBAL", "PRECALL"}
               and i.opname != base.get(i.offset))


def monitored(co, events):
    """co._co_code_adaptive while these sys.monitoring local events are on."""
    mon = sys.monitoring
    tool = 3
    mon.use_tool_id(tool, "st-gen-bytecode")
    try:
        for e in (mon.events.CALL, mon.events.PY_START, mon.events.PY_RETURN, mon.events.LINE):
            mon.register_callback(tool, e, lambda *a: None)
        mon.set_local_events(tool, co, events)
        raw = co._co_code_adaptive
        mon.set_local_events(tool, co, 0)
    finally:
        mon.free_tool_id(tool)
    return raw


def one_case(label, name, co, form, raw, local, callee, namei, reads, lines, err, spec):
    return {"interp": label, "version": sys.hexversion, "name": name, "form": form,
            "code": raw.hex(), "linetable": co.co_linetable.hex(),
            "firstlineno": co.co_firstlineno, "local": local, "callee": callee,
            "namei": namei, "err": err, "reads": reads, "lines": lines, "specialized": spec}


def forms(co, reads, opmap):
    """(form, raw bytes, error, opnames at the reads) for each state of the
    code worth testing, taken in this order (monitoring last)."""
    out = [("co_code", co.co_code, 0, [])]
    if sys.version_info < (3, 11):
        return out
    form = "adaptive"
    if "ENTER_EXECUTOR" in opmap and opmap["ENTER_EXECUTOR"] in raw_ops(co, co._co_code_adaptive):
        form = "adaptive+enter_executor"
    out.append((form, co._co_code_adaptive, 0, specialized_at(co, reads)))
    if sys.version_info >= (3, 12) and co.co_name != "wide":
        E = sys.monitoring.events
        instr = set(o for n, o in opmap.items() if n.startswith("INSTRUMENTED_"))
        raw = monitored(co, E.CALL | E.PY_START | E.PY_RETURN)
        got = set(raw_ops(co, raw)) & instr
        if not got or opmap["INSTRUMENTED_LINE"] in got:
            raise SystemExit("gen_bytecode: CALL events left no instrumented opcode in %s" % co)
        out.append(("adaptive+monitoring_calls", raw, 0, []))
        raw = monitored(co, E.LINE)
        if opmap["INSTRUMENTED_LINE"] not in raw_ops(co, raw):
            raise SystemExit("gen_bytecode: LINE events left no INSTRUMENTED_LINE in %s" % co)
        out.append(("adaptive+monitoring_lines", raw, "EBUSY", []))
    return out


def worker(label):
    import opcode
    src = SOURCE + wide_source()
    ns = {"__name__": "st_samples"}
    exec(compile(src, FILENAME, "exec", dont_inherit=True), ns)
    opmap = dict(opcode.opmap)
    cases, specialized, jit_seen, ncalls, calls_spec = [], 0, False, 0, set()
    for name, fn, call, callee_name in drivers(ns):
        co = fn.__code__
        for _ in range(RUNS):
            call(fn)
        namei = co.co_names.index("session") if "session" in co.co_names else len(co.co_names)
        if callee_name:
            local, callee = 0, co.co_names.index(callee_name)
            reads = reference_reads(co, None, "session", callee_name)
            ncalls += len(reads)
            calls_spec |= specialized_calls(co)
        else:
            local, callee = co.co_varnames.index("request"), -1
            reads = reference_reads(co, local, "session")
        lines = [line_of(co, 2 * r) for r in reads]
        want = marked_lines(src, co)
        if lines != want:
            raise SystemExit("gen_bytecode: %s %s: reads on lines %s, SOURCE marks %s"
                             % (label, name, lines, want))
        for form, raw, err, spec in forms(co, reads, opmap):
            c = one_case(label, name, co, form, raw, local, callee, namei, reads, lines, err,
                         spec)
            specialized += sum(1 for s in c["specialized"] if s not in ("LOAD_ATTR", "LOAD_METHOD"))
            jit_seen |= form == "adaptive+enter_executor"
            cases.append(c)
    if not ncalls:
        raise SystemExit("gen_bytecode: %s: no read of a call result" % label)
    if sys.version_info >= (3, 11) and not calls_spec:
        raise SystemExit("gen_bytecode: %s: no call of a global was specialized" % label)
    if sys.version_info >= (3, 11) and not specialized:
        raise SystemExit("gen_bytecode: %s: no read was specialized" % label)
    jit = getattr(sys, "_jit", None)
    if jit is not None and jit.is_enabled() and not jit_seen:
        raise SystemExit("gen_bytecode: %s: JIT on but no ENTER_EXECUTOR in the loop" % label)
    json.dump({"interp": label, "version": sys.hexversion, "cases": cases,
               "opcodes": opcode_table(), "calls_specialized": sorted(calls_spec)}, sys.stdout)


# --------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------

def interpreters():
    pyenv = os.environ.get("PYENV_ROOT", "/root/.pyenv")
    for spec in os.environ.get("BYTECODE_PYTHONS", DEFAULT_PYTHONS).split():
        root = ""
        if spec.startswith("/") and ":" in spec:
            root, py = spec.split(":", 1)
            label = os.path.basename(root)
        elif spec.startswith("/"):
            py, label = spec, "debian"
        else:
            py, label = "", "pyenv"
            vdir = os.path.join(pyenv, "versions")
            for v in sorted(os.listdir(vdir)) if os.path.isdir(vdir) else []:
                exe = os.path.join(vdir, v, "bin", "python" + spec)
                if v.startswith(spec + ".") and os.access(exe, os.X_OK):
                    py = exe
        if not py or not os.access(root + py, os.X_OK):
            print("gen_bytecode: SKIPPED %s: not found" % spec, file=sys.stderr)
            continue
        yield label, root, py


def run_worker(label, root, py):
    argv = (["chroot", root] if root else []) + [py, "-", "--one", label]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHON_JIT="1")
    with open(os.path.abspath(__file__), "rb") as f:
        r = subprocess.run(argv, stdin=f, capture_output=True, env=env, cwd="/")
    if r.returncode:
        raise SystemExit("gen_bytecode: %s %s failed:\n%s" % (label, py, r.stderr.decode()))
    return json.loads(r.stdout)


def c_str(s, indent="\t  "):
    if not s:
        return '""'
    parts = ['"%s"' % s[i:i + 96] for i in range(0, len(s), 96)]
    return ("\n" + indent).join(parts)


def c_list(v):
    return "{ %s }" % ", ".join(str(x) for x in v) if v else "{ 0 }"


def emit(results):
    out = ["/* Generated by tests/unit/gen_bytecode.py --all from real interpreters. "
           "Do not edit. */"]
    out.append("static const struct bc_interp interps[] = {")
    for r in results:
        out.append('\t{ "%s", 0x%08x },' % (r["interp"], r["version"]))
    out.append("};\n")
    out.append("/* interpreter, opcode, base (-2: opaque), caches, name */")
    out.append("static const struct bc_oprow oprows[] = {")
    for k, r in enumerate(results):
        for num, b, c, name in r["opcodes"]:
            out.append('\t{ %d, %d, %d, %d, "%s" },' % (k, num, b, c, name))
    out.append("};\n")
    out.append("static const struct bc_case cases[] = {")
    for k, r in enumerate(results):
        for c in r["cases"]:
            if len(c["reads"]) > 8:
                raise SystemExit("gen_bytecode: more than 8 reads in %s" % c["name"])
            out.append('\t{ %d, "%s", "%s", %s, %u, %d, %u, %d, %d, %s, %s, "%s",'
                       '\n\t  %s,\n\t  %s },'
                       % (k, c["name"], c["form"], "-" + c["err"] if c["err"] else "0",
                          c["local"], c["callee"], c["namei"], c["firstlineno"], len(c["reads"]),
                          c_list(c["reads"]), c_list(c["lines"]), ",".join(c["specialized"]),
                          c_str(c["linetable"]), c_str(c["code"])))
    out.append("};")
    return "\n".join(out) + "\n"


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        worker(sys.argv[2])
        return
    if len(sys.argv) != 2 or sys.argv[1] != "--all":
        raise SystemExit(__doc__)
    results = []
    for label, root, py in interpreters():
        r = run_worker(label, root, py)
        r["interp"] = "%s-%d.%d.%d" % (label, r["version"] >> 24, (r["version"] >> 16) & 0xff,
                                       (r["version"] >> 8) & 0xff)
        for c in r["cases"]:
            c["interp"] = r["interp"]
        results.append(r)
        print("gen_bytecode: %s: %d cases, %d of calls (global loads and calls specialized "
              "as: %s)" % (r["interp"], len(r["cases"]),
                           sum(1 for c in r["cases"] if c["callee"] >= 0),
                           " ".join(r["calls_specialized"]) or "-"), file=sys.stderr)
    minors = set((r["version"] >> 16) & 0xff for r in results)
    missing = sorted(set(range(10, 16)) - minors)
    if missing:
        raise SystemExit("gen_bytecode: no interpreter for 3.%s" % ", 3.".join(map(str, missing)))
    sys.stdout.write(emit(results))


if __name__ == "__main__":
    main()
