"""The trusted side of a sandboxed run; evalkit copies this file into the sandbox and runs it with the system
Python (`python3 -I -S sandbox_runner.py SPEC VERDICT_FD GO_FD`). Standard library only, and few modules of
it, so that it starts fast (the spec and every message are marshal data). It waits for the harness's go (the
run's control group is in place), sets the run's rlimits on itself, then starts the solution.

It forks. The child loses the verdict descriptor, then executes the model's solution — the only untrusted
code — and serves calls to the functions it defined. The parent makes itself non-dumpable (so the child
cannot reach its descriptors through /proc), runs the tests with a proxy in place of each of those functions,
and writes the verdict on the descriptor the harness gave it. Every value that crosses from the child is
encoded by `encode`, which accepts plain data only (None, bool, int, float, complex, str, bytes, and lists,
tuples, dicts, sets, frozensets of them — by exact type, so a subclass with its own `__eq__` is refused), so
the tests compare genuine values in a process the solution never ran in, and the expected values never enter
the child at all: a solution cannot print a marker, trace over the asserts, or return an object equal to
everything.

Modes (spec["mode"]):
  verdict     tests run in the parent against proxies (the default for assert-style tests);
  in-process  the tests run in the child after the solution (tests that pass functions or the solution's own
              classes across); the child reports the end of the tests, which the solution could forge — the
              harness counts such problems apart.
"""

from __future__ import annotations

import marshal
import os
import signal
import struct
import sys

MAX_DEPTH = 64
MAX_ITEMS = 1_000_000
_type = type  # captured before any solution code runs


class NotPlain(Exception):
    """A value that is not plain data."""


def encode(value: object, depth: int = 0, budget: list[int] | None = None) -> object:
    """Plain data as tagged JSON; anything else raises NotPlain naming its type."""
    budget = budget if budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise NotPlain("a value nested too deeply or too large")
    kind = _type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return {"i": str(value)}
    if kind is float:
        return {"f": repr(value)}
    if kind is complex:
        return {"c": [repr(value.real), repr(value.imag)]}
    if kind is bytes:
        return {"b": value.hex()}
    if kind in (list, tuple, set, frozenset):
        tag = {list: "l", tuple: "t", set: "s", frozenset: "fs"}[kind]
        return {tag: [encode(item, depth + 1, budget) for item in value]}
    if kind is dict:
        return {"d": [[encode(k, depth + 1, budget), encode(v, depth + 1, budget)] for k, v in value.items()]}
    raise NotPlain(f"a value of type {kind.__name__}")


def decode(data: object) -> object:
    """The value `encode` described; anything else in a message is refused."""
    if data is None or _type(data) in (bool, str):
        return data
    if _type(data) is not dict or len(data) != 1:
        raise ValueError("malformed value")
    ((tag, body),) = data.items()
    if tag == "i":
        return int(body)
    if tag == "f":
        return float(body)
    if tag == "c":
        return complex(float(body[0]), float(body[1]))
    if tag == "b":
        return bytes.fromhex(body)
    if tag in ("l", "t", "s", "fs"):
        items = [decode(item) for item in body]
        return {"l": list, "t": tuple, "s": set, "fs": frozenset}[tag](items)
    if tag == "d":
        return {decode(k): decode(v) for k, v in body}
    raise ValueError(f"unknown tag {tag!r}")


# -- framing over a pair of pipes (marshal: built in, so the evaluator starts fast) -------------------------------
class Channel:
    """Length-prefixed messages; what arrives from the child is only trusted after `decode` checked it."""

    def __init__(self, read_fd: int, write_fd: int):
        self.read_fd, self.write_fd = read_fd, write_fd

    def send(self, message: object) -> None:
        data = marshal.dumps(message)
        view = memoryview(struct.pack(">I", len(data)) + data)
        while view:
            view = view[os.write(self.write_fd, view) :]

    def receive(self) -> object:
        size = struct.unpack(">I", self._exactly(4))[0]
        try:
            return marshal.loads(self._exactly(size))
        except (ValueError, EOFError, TypeError) as exc:
            raise EOFError(f"a malformed message from the solution's process ({exc})") from None

    def _exactly(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = os.read(self.read_fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError("the solution's process ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


SOURCES: dict[str, list[str]] = {}


def compiled(source: str, filename: str):
    """Compile, keeping the source so a failure can quote its line."""
    SOURCES[filename] = source.splitlines()
    return compile(source, filename, "exec")


def describe(exc: BaseException) -> str:
    """A failure in one line: the failing assert's source, else 'Type: message'."""
    if isinstance(exc, AssertionError):
        line = None
        trace = exc.__traceback__
        while trace is not None:
            name = trace.tb_frame.f_code.co_filename
            if name in SOURCES and 0 < trace.tb_lineno <= len(SOURCES[name]):
                line = SOURCES[name][trace.tb_lineno - 1].strip()
            trace = trace.tb_next
        if line:
            return line
    return f"{_type(exc).__name__}: {exc}"[:300]


# -- the child: the solution ---------------------------------------------------------------------------------------
def child(sock: Channel, spec: dict) -> None:
    namespace: dict = {"__name__": "__main__"}
    try:
        exec(compiled(spec["prelude"] + "\n" + spec["code"], "<solution>"), namespace)
        if spec["mode"] == "in-process":
            exec(compiled(spec["tests"], "<tests>"), namespace)
            sock.send({"done": True})
            return
    except BaseException as exc:  # noqa: BLE001 - any failure of untrusted code is reported, never raised
        sock.send({"error": describe(exc), "type": _type(exc).__name__})
        return
    sock.send({"ready": [name for name, value in namespace.items() if callable(value)]})
    while True:
        try:
            request = sock.receive()
        except EOFError:
            return
        function = namespace.get(request["call"])
        try:
            result = function(*decode(request["args"]), **decode(request["kwargs"]))
            reply = {"value": encode(result)}
        except NotPlain as exc:
            reply = {"not_plain": str(exc)}
        except BaseException as exc:  # noqa: BLE001
            reply = {"raised": describe(exc), "type": _type(exc).__name__}
        sock.send(reply)


# -- the parent: the tests -----------------------------------------------------------------------------------------
class SolutionFailed(Exception):
    def __init__(self, detail: str, kind: str = "failed"):
        super().__init__(detail)
        self.detail, self.kind = detail, kind


def proxy(sock: Channel, name: str):
    def call(*args, **kwargs):
        try:
            request = {"call": name, "args": encode(list(args)), "kwargs": encode(dict(kwargs))}
        except NotPlain as exc:
            raise SolutionFailed(f"a test passes {exc} to {name}", "needs_in_process") from None
        sock.send(request)
        reply = sock.receive()
        if not isinstance(reply, dict):
            raise SolutionFailed("a malformed reply from the solution's process")
        if "value" in reply:
            return decode(reply["value"])
        if "not_plain" in reply:
            raise SolutionFailed(f"{name} returned {reply['not_plain']}, not plain data")
        raise SolutionFailed(reply["raised"], "memory" if reply.get("type") == "MemoryError" else "failed")

    call.__name__ = name
    return call


def ended(pid: int) -> dict:
    """The verdict when the solution's process is gone: how it ended (signal, exit)."""
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        if number in (signal.SIGXCPU, signal.SIGKILL):
            return {"status": "timeout", "detail": "CPU limit"}
        return {"status": "crashed", "detail": f"killed by signal {number}"}
    return {"status": "failed", "detail": f"the solution's process exited (code {os.WEXITSTATUS(status)}) before "
                                          "the tests finished"}


def parent(sock: Channel, spec: dict, pid: int) -> dict:
    try:
        first = sock.receive()
    except EOFError:
        return ended(pid)
    if not isinstance(first, dict):
        return {"status": "failed", "detail": "a malformed message from the solution's process"}
    if "error" in first:
        kind = "memory" if first.get("type") == "MemoryError" else "failed"
        return {"status": kind, "detail": first["error"]}
    if spec["mode"] == "in-process":
        return {"status": "passed"}
    environment: dict = {"__name__": "__evalkit_tests__"}
    exec(compiled(spec["prelude"], "<prelude>"), environment)
    for name in first.get("ready", []):
        if _type(name) is str:
            environment[name] = proxy(sock, name)
    passed = 0
    for number, statement in enumerate(spec["statements"]):
        try:
            exec(compiled(statement, f"<tests:{number}>"), environment)
        except SolutionFailed as exc:
            return {"status": exc.kind, "detail": exc.detail, "passed": passed}
        except EOFError:
            return {**ended(pid), "passed": passed}
        except BaseException as exc:  # noqa: BLE001 - a failing test is a failed solution
            return {"status": "failed", "detail": describe(exc), "passed": passed}
        passed += 1
    return {"status": "passed", "passed": passed}


def set_dumpable(value: int) -> None:
    """PR_SET_DUMPABLE: at 0, processes of the same uid can no longer open our /proc/<pid>/fd entries. The
    evaluator sets 0 before the fork; the child sets 1 again for itself (a solution may read /proc/self)."""
    import ctypes  # noqa: PLC0415 - the one import that only this needs

    try:
        ctypes.CDLL(None, use_errno=True).prctl(4, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def apply_limits(limits: dict) -> None:
    """The run's rlimits, on the evaluator itself before the solution exists (the child inherits them)."""
    import resource  # noqa: PLC0415 - a small builtin module, needed only here

    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value[0], value[1]))


def main() -> None:
    with open(sys.argv[1], "rb") as handle:
        spec = marshal.load(handle)
    verdict_fd, go_fd = int(sys.argv[2]), int(sys.argv[3])
    os.read(go_fd, 1)  # the harness has put this process in the run's control group
    os.close(go_fd)
    apply_limits(spec["limits"])
    set_dumpable(0)
    to_child_read, to_child_write = os.pipe()
    to_parent_read, to_parent_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(verdict_fd)
        os.close(to_child_write)
        os.close(to_parent_read)
        set_dumpable(1)
        try:
            child(Channel(to_child_read, to_parent_write), spec)
        finally:
            sys.stdout.flush()
            os._exit(0)
    os.close(to_child_read)
    os.close(to_parent_write)
    verdict = parent(Channel(to_parent_read, to_child_write), spec, pid)
    verdict["mode"] = spec["mode"]
    os.write(verdict_fd, marshal.dumps(verdict))
    os.close(verdict_fd)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
