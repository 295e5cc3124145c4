#!/usr/bin/python3
"""Independent count of Starlette's SessionMiddleware assertion with BCC.

    count_asserts.py PID

Attaches its own uprobe (BCC, not sessiontrace's code) to _PyErr_SetObject in
the interpreter process PID maps, and counts the raises of an AssertionError
whose message starts with "SessionMiddleware must be installed" and that has
no traceback yet (its first raise; every re-raise through middleware passes
the same object again, by then with a traceback). Prints "ready" once
attached and "count=N" on SIGINT/SIGTERM.

The object layout is not taken from sessiontrace's tables: it is measured in
this interpreter (ctypes over live objects), which must be the same CPython
minor version as the target (Debian's python3, 3.11, for Debian's server).
"""
import ctypes
import os
import signal
import sys

from bcc import BPF

MESSAGE = b"SessionMiddleware must be installed"


def find_ptr(container, target, limit=128):
    """Offset of the pointer value `target` inside the object at id(container)."""
    raw = ctypes.string_at(id(container), limit)
    want = id(target).to_bytes(8, sys.byteorder)
    for off in range(0, limit - 7, 8):
        if raw[off:off + 8] == want:
            return off
    raise SystemExit(f"cannot find the field in {type(container).__name__}")


def layout():
    try:
        raise AssertionError("SessionMiddleware must be installed (probe)")
    except AssertionError as e:
        exc = e
    tb_off = find_ptr(exc, exc.__traceback__)
    args_off = find_ptr(exc, exc.args)
    item_off = find_ptr(exc.args, exc.args[0])
    s = "Probe_ascii_text_" * 2
    data_off = ctypes.string_at(id(s), 128).find(s.encode())
    return tb_off, args_off, item_off, data_off


def interpreter_file(pid):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and "python3" in os.path.basename(parts[5]) and "x" in parts[1]:
                return parts[5]
    raise SystemExit(f"pid {pid} maps no python3 executable")


def assertion_error_type(pid, exe):
    """*PyExc_AssertionError in the target: the symbol's address (non-PIE), read."""
    import subprocess
    out = subprocess.run(["nm", "-D", "--defined-only", exe], capture_output=True, text=True,
                         check=True).stdout
    addr = next(int(l.split()[0], 16) for l in out.splitlines()
                if l.split()[-1] == "PyExc_AssertionError")
    with open(f"/proc/{pid}/mem", "rb") as m:
        m.seek(addr)
        return int.from_bytes(m.read(8), sys.byteorder)


PROG = r"""
#include <uapi/linux/ptrace.h>
BPF_ARRAY(hits, u64, 1);

int on_raise(struct pt_regs *ctx)
{
    u64 type = PT_REGS_PARM2(ctx), value = PT_REGS_PARM3(ctx), tb = 0, args = 0, msg = 0;
    char buf[MSGLEN] = {};
    const char want[] = WANT;
    int zero = 0;

    if ((bpf_get_current_pid_tgid() >> 32) != TARGET || type != ATYPE || !value)
        return 0;
    bpf_probe_read_user(&tb, 8, (void *)(value + TB_OFF));
    if (tb)
        return 0;
    bpf_probe_read_user(&args, 8, (void *)(value + ARGS_OFF));
    if (!args)
        return 0;
    bpf_probe_read_user(&msg, 8, (void *)(args + ITEM_OFF));
    if (!msg || bpf_probe_read_user(buf, MSGLEN, (void *)(msg + DATA_OFF)))
        return 0;
#pragma unroll
    for (int i = 0; i < MSGLEN; i++)
        if (buf[i] != want[i])
            return 0;
    u64 *v = hits.lookup(&zero);
    if (v)
        __sync_fetch_and_add(v, 1);
    return 0;
}
"""


def attach(b, exe, sym, fn_name, pid):
    """BPF.attach_uprobe, but with ref_ctr_offset 0. Debian's python3-bpfcc
    0.26 declares bpf_attach_uprobe with 6 arguments while libbcc takes 7: the
    missing ref_ctr_offset is register garbage, and the kernel then refuses
    every other uprobe at that address with a different one ("ref_ctr_offset
    mismatch" in dmesg) -- sessiontrace's among them."""
    from bcc import libbcc
    lib = libbcc.lib
    lib.bpf_attach_uprobe.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p,
                                      ctypes.c_char_p, ctypes.c_ulonglong, ctypes.c_int,
                                      ctypes.c_uint32]
    path, addr = BPF._check_path_symbol(exe.encode(), sym.encode(), None, pid, 0)
    fn = b.load_func(fn_name, BPF.KPROBE)
    ev_name = b._get_uprobe_evname(b"p", path, addr, pid)
    fd = lib.bpf_attach_uprobe(fn.fd, 0, ev_name, path, addr, pid, 0)
    if fd < 0:
        raise SystemExit(f"cannot attach the BCC uprobe to {exe}:{sym}")
    b._add_uprobe_fd(ev_name, fd)


def main():
    pid = int(sys.argv[1])
    exe = interpreter_file(pid)
    tb_off, args_off, item_off, data_off = layout()
    text = (PROG.replace("MSGLEN", str(len(MESSAGE)))
                .replace("WANT", '"' + MESSAGE.decode() + '"')
                .replace("TARGET", str(pid))
                .replace("ATYPE", hex(assertion_error_type(pid, exe)) + "ULL")
                .replace("TB_OFF", str(tb_off)).replace("ARGS_OFF", str(args_off))
                .replace("ITEM_OFF", str(item_off)).replace("DATA_OFF", str(data_off)))
    b = BPF(text=text)
    attach(b, exe, "_PyErr_SetObject", "on_raise", pid)
    stop = []
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    print("ready", flush=True)
    while not stop:
        signal.pause()
    print(f"count={b['hits'][ctypes.c_int(0)].value}", flush=True)


if __name__ == "__main__":
    main()
