"""The solution's side of a sandboxed run: a fresh interpreter inside bubblewrap that runs the model's code and
answers the evaluator's questions about it. This is the only process that runs untrusted code, and nothing in it
is trusted: whatever it sends is read by the evaluator as plain data or as a handle, never as a verdict.

Started as `python3 -s -S -c <import sandbox_server; entry()> IN_FD OUT_FD` (exec'd, never forked
from anything that held the tests); its folder holds only this file, sandbox_wire.py and their bytecode. Before
the solution runs it sets the run's rlimits on itself. The first message (from the evaluator) carries the code
and the rlimits; the reply lists the names the solution defined (never anything of the tests). Then it serves
requests until the evaluator closes the channel (`globals names` first: the values of those the tests use):
  call h args kwargs · getattr h name · bool h · len h · iter h · next h · getitem h key · contains h item ·
  repr h · str h  — each answered {"ok": value} or {"raise": [builtin type name, args, line]}; a call also
  returns the arguments' state after it ({"mut": ...}) so that mutation in place is seen by the tests.
Objects of the tests the solution was given (["r", n]) are called back: {"op": "callback", ...} and its answer.
"""

import builtins
import os
import sys

import sandbox_wire as wire

_handles = {}  # number -> an object of the solution the evaluator holds a handle to
_handle_numbers = {}  # id(object) -> number (the object is kept alive by _handles)
_MUTABLE_TAGS = ("l", "d", "s", "ba")
NAMESPACE = {}  # the solution's globals, once its code has run


def handle(value):
    number = _handle_numbers.get(id(value))
    if number is None:
        number = len(_handles) + 1
        _handles[number] = value
        _handle_numbers[id(value)] = number
    return ["h", number]


def other(value):
    if type(value) is type(sys):  # a module: the evaluator imports its own copy by name
        try:
            name = value.__name__
            if type(name) is str:
                return ["m", str.__str__(name)]
        except Exception:  # noqa: BLE001
            pass
    return handle(value)


def enc(value):
    return wire.encode(value, other, sys.modules.get("collections") and sys.modules["collections"].OrderedDict)


class Callback:
    """An object of the tests (a lambda, a key function): calling it asks the evaluator to call it."""

    __slots__ = ("number",)

    def __init__(self, number):
        self.number = number

    def __call__(self, *args, **kwargs):
        flush()
        CHANNEL.send({"op": "callback", "r": self.number, "args": enc(list(args)), "kwargs": enc(kwargs)})
        return serve(until_reply=True)

    def __repr__(self):
        return f"<a callable of the tests #{self.number}>"


def resolve(tag, body):
    if tag == "h":
        return _handles[body]
    if tag == "r":
        return Callback(body)
    if tag == "bi":
        value = getattr(builtins, body)
        if not callable(value):
            raise ValueError("not a builtin callable")
        return value
    if tag == "m":
        return __import__(body)
    raise ValueError(tag)


def dec(data):
    return wire.decode(data, resolve)


def exception_info(exc):
    """[name of the nearest built-in exception class, plain args, the solution's line]."""
    name = "Exception"
    try:
        for cls in type(exc).__mro__:
            if getattr(builtins, getattr(cls, "__name__", ""), None) is cls:
                name = cls.__name__
                break
        args = exc.args
        args = enc(list(args)) if type(args) is tuple else ["l", []]
    except BaseException:  # noqa: BLE001 - a hostile exception object: its type name is enough
        args = ["l", []]
    return [name, args, failing_line(exc)]


def failing_line(exc):
    try:
        trace, line = exc.__traceback__, ""
        for _ in range(10000):
            if trace is None:
                break
            if trace.tb_frame.f_code.co_filename == "<solution>" and 0 < trace.tb_lineno <= len(LINES):
                line = LINES[trace.tb_lineno - 1].strip()[:500]
            trace = trace.tb_next
        return line
    except BaseException:  # noqa: BLE001
        return ""


def answer(request):
    op = request["op"]
    target = _handles[request["h"]] if "h" in request else None
    if op == "call":
        args, kwargs = dec(request["args"]), dec(request["kwargs"])
        value = target(*args, **kwargs)
        mutated = [[i, enc(args[i])] for i, raw in enumerate(request["args"][1])
                   if type(raw) is list and raw and raw[0] in _MUTABLE_TAGS]
        mutated += [[k, enc(kwargs[k])] for k, raw in request["kwargs"][1]
                    if type(raw) is list and raw and raw[0] in _MUTABLE_TAGS]
        return {"ok": enc(value), "mut": mutated}
    if op == "globals":  # the values of the solution's names the tests use (the evaluator chose them)
        return {"ok": ["d", [[n, enc(NAMESPACE[n])] for n in request["names"] if n in NAMESPACE]]}
    if op == "getattr":
        return {"ok": enc(getattr(target, request["name"]))}
    if op == "bool":
        return {"ok": bool(target)}
    if op == "len":
        return {"ok": enc(len(target))}
    if op == "iter":
        return {"ok": handle(iter(target))}
    if op == "next":
        return {"ok": enc(next(target))}
    if op == "getitem":
        return {"ok": enc(target[dec(request["key"])])}
    if op == "contains":
        return {"ok": dec(request["item"]) in target}
    if op == "repr":
        return {"ok": enc(repr(target))}
    if op == "str":
        return {"ok": enc(str(target))}
    raise ValueError(f"unknown request {op!r}")


def serve(until_reply=False):
    """Answer the evaluator's requests; with `until_reply`, return (or raise) the answer to our callback."""
    while True:
        message = CHANNEL.receive()
        if "op" not in message:
            if not until_reply:
                raise wire.Gone("an answer nobody asked for")
            if "raise" in message:
                name, args = message["raise"][0], dec(message["raise"][1])
                cls = getattr(builtins, name, None)
                if not (isinstance(cls, type) and issubclass(cls, BaseException)):
                    cls = Exception
                raise cls(*args)
            return dec(message["ok"])
        try:
            reply = answer(message)
        except wire.Gone:
            raise
        except BaseException as exc:  # noqa: BLE001 - the solution's own failure is an answer
            reply = {"raise": exception_info(exc)}
        flush()
        CHANNEL.send(reply)


def flush():
    """What the solution printed goes to the pipes before each answer, so that the harness has it when the verdict
    arrives (it does not wait for this process to end)."""
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - the solution may have replaced or closed them
            pass


def apply_limits(limits):
    import resource  # noqa: PLC0415

    for name, value in limits.items():
        resource.setrlimit(getattr(resource, name), (value[0], value[1]))


def main():
    global CHANNEL, LINES
    CHANNEL = wire.Channel(int(sys.argv[1]), int(sys.argv[2]), writes="json")
    start = CHANNEL.receive()
    apply_limits(start["limits"])
    code = start["code"]
    LINES = code.splitlines()
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(code, "<solution>", "exec", dont_inherit=True), namespace)
    except BaseException as exc:  # noqa: BLE001
        flush()
        CHANNEL.send({"raise": exception_info(exc)})
        return
    flush()
    if start["mode"] == "script":
        CHANNEL.send({"ok": None})
        return
    NAMESPACE.update(namespace)
    CHANNEL.send({"ok": ["l", [n for n in namespace if type(n) is str and not n.startswith("__")]]})
    serve()


def entry():
    """The harness runs `python3 -s -S -c "...; import sandbox_server; sandbox_server.entry()" IN_FD OUT_FD` (the
    module itself is byte-compiled once per evalkit process, so starting costs no compile)."""
    try:
        main()
    except wire.Gone:
        pass
    finally:
        flush()
        os._exit(0)


if __name__ == "__main__":
    entry()
