"""A seccomp filter for sandboxed programs, as the classic BPF program bubblewrap's `--seccomp FD` loads.

It refuses (EPERM) the system calls a Python solution never needs and an attacker wants: io_uring (a way
around other filters), bpf, ptrace and process_vm_readv/writev (reading the evaluator's memory),
perf_event_open, userfaultfd, the kernel keyring, and unshare / setns / mount (namespaces are also closed by
`--disable-userns`). Everything else is allowed. The filter checks the architecture first: a call made
through another ABI (x32, 32-bit) is refused outright. Built by hand from the kernel's seccomp_data layout
(struct seccomp_data: int nr; u32 arch; ...), so no library is needed.
"""

from __future__ import annotations

import errno
import platform
import struct

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000

#: (audit arch, syscall numbers to refuse, lowest number of a foreign ABI on this arch or None)
_ARCHES: dict[str, tuple[int, dict[str, int], int | None]] = {
    "x86_64": (0xC000003E, {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "perf_event_open": 298, "bpf": 321,
        "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "setns": 308, "mount": 165,
        "kexec_load": 246, "init_module": 175, "finit_module": 313,
    }, 0x40000000),  # x32 system calls are numbered from __X32_SYSCALL_BIT
    "aarch64": (0xC00000B7, {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "perf_event_open": 241, "bpf": 280,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "setns": 268, "mount": 40,
        "kexec_load": 104, "init_module": 105, "finit_module": 273,
    }, None),
}  # fmt: skip


def _instruction(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def refused_calls() -> tuple[str, ...]:
    arch = _ARCHES.get(platform.machine())
    return tuple(sorted(arch[1])) if arch else ()


def filter_program() -> bytes | None:
    """The BPF program for this machine's architecture, or None where evalkit has no syscall table for it."""
    arch = _ARCHES.get(platform.machine())
    if arch is None:
        return None
    audit_arch, numbers, foreign_from = arch
    denied = sorted(set(numbers.values()))
    program = [
        _instruction(_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _instruction(_JEQ_K, 1, 0, audit_arch),
        _instruction(_RET_K, 0, 0, _KILL_PROCESS),
        _instruction(_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if foreign_from is not None:
        program += [_instruction(_JGE_K, 0, 1, foreign_from), _instruction(_RET_K, 0, 0, _ERRNO | errno.EPERM)]
    for position, number in enumerate(denied):
        left = len(denied) - position - 1
        # equal: jump over the remaining checks and the ALLOW to the EPERM return
        program.append(_instruction(_JEQ_K, left + 1, 0, number))
    program += [_instruction(_RET_K, 0, 0, _ALLOW), _instruction(_RET_K, 0, 0, _ERRNO | errno.EPERM)]
    return b"".join(program)
