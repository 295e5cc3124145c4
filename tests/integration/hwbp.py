"""Hardware breakpoints and seccomp from the tests, through ctypes (issue 23):
the debug registers another user (a debugger) may hold, whether this kernel
has breakpoint events at all, and a kernel policy that refuses
perf_event_open. x86_64 only, as sessiontrace itself."""
import ctypes
import os
import struct

NR_PERF_EVENT_OPEN = 298
PERF_TYPE_BREAKPOINT = 5
HW_BREAKPOINT_RW = 3
HW_BREAKPOINT_LEN_8 = 8
EXCLUDE_KERNEL = 1 << 5
PERF_FLAG_FD_CLOEXEC = 1 << 3

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def open_breakpoint(tid: int, addr: int) -> int:
    """A counting read/write breakpoint on 8 bytes at addr in thread tid (0:
    this one), the way gdb's hardware watchpoints take a debug register.
    Returns the fd; OSError with the errno when refused."""
    attr = bytearray(128)
    # type, size, config, sample_period, sample_type, read_format, flags,
    # wakeup_events, bp_type, bp_addr, bp_len (PERF_ATTR_SIZE_VER1 and on)
    struct.pack_into("IIQQQQQIIQQ", attr, 0, PERF_TYPE_BREAKPOINT, len(attr), 0, 0, 0, 0,
                     EXCLUDE_KERNEL, 0, HW_BREAKPOINT_RW, addr, HW_BREAKPOINT_LEN_8)
    buf = ctypes.create_string_buffer(bytes(attr), len(attr))
    fd = _libc.syscall(NR_PERF_EVENT_OPEN, buf, tid, -1, -1, PERF_FLAG_FD_CLOEXEC)
    if fd < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return fd


def unavailable_reason():
    """None when this kernel and machine give hardware breakpoint events;
    else why not."""
    word = ctypes.c_uint64(0)
    try:
        os.close(open_breakpoint(0, ctypes.addressof(word)))
    except OSError as e:
        return f"no hardware breakpoint events here: perf_event_open: {e.strerror}"
    return None


# classic BPF for seccomp: refuse one system call with an errno, allow the rest
_BPF_LD_W_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x20, 0x15, 0x06
_AUDIT_ARCH_X86_64 = 0xC000003E
_SECCOMP_RET_ERRNO, _SECCOMP_RET_ALLOW = 0x00050000, 0x7FFF0000
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2


def refuse_syscall(nr: int, errno: int) -> None:
    """In this process (and what it execs): system call nr fails with errno,
    as a container runtime's seccomp profile refuses perf_event_open. For
    subprocess's preexec_fn."""
    prog = [
        (_BPF_LD_W_ABS, 0, 0, 4),            # arch
        (_BPF_JEQ_K, 1, 0, _AUDIT_ARCH_X86_64),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
        (_BPF_LD_W_ABS, 0, 0, 0),            # nr
        (_BPF_JEQ_K, 0, 1, nr),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ERRNO | errno),
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),
    ]
    filt = b"".join(struct.pack("HBBI", *ins) for ins in prog)
    fbuf = ctypes.create_string_buffer(filt, len(filt))
    fprog = struct.pack("HxxxxxxQ", len(prog), ctypes.addressof(fbuf))
    pbuf = ctypes.create_string_buffer(fprog, len(fprog))
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or \
            _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.addressof(pbuf), 0, 0):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
