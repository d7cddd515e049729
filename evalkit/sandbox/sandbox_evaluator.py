"""The trusted side of a sandboxed run: holds the tests, runs them with the real builtins, and asks the solution's
process (over a pair of pipes, sandbox_wire.py beside it) for the values it needs. Its verdict goes to the harness on
a descriptor the solution's process never had.

Started by the harness as `python3 -s -S -c <import sandbox_evaluator; entry()> TO_FD FROM_FD VERDICT_FD`, outside
the solution's sandbox (as an unprivileged uid other than the solution's when evalkit is root), with the job on
stdin (marshal, from the harness); the verdict is marshal data too (read only by the harness). The solution's
process is a separate, freshly exec'd interpreter in another pid namespace: the tests exist
only here and in the harness.

What the tests see:
- their own namespace with the real builtins; the solution's names that the tests use and that are not builtins
  (a solution's `set` or `abs` never replaces the tests'), bound first, then the prelude (the tests' imports),
  `test_setup_code` and the tests run over them;
- plain values (decoded from the wire: the same built-in types, read through the base types over there);
- a `Remote` for anything else: its truthiness, len, items, iteration, attributes and calls are asked of the
  solution and answered as plain data or another Remote; equality and hashing are by identity, so an object's
  own `__eq__` never decides a comparison;
- modules the solution imported and the tests name, imported here by name (the real module, not the solution's);
- the solution's exceptions as the same built-in type with the same (plain) args; arguments mutated in place
  updated in the tests' objects; lambdas and other objects of the tests given to the solution are called here.
A broken channel, a solution that exits, raises SystemExit/KeyboardInterrupt, or sends something malformed
raises `wire.Gone` (a BaseException) and marks the run broken: the verdict is a failure even if the tests catch it.
"""

import builtins
import marshal
import os
import sys

import sandbox_wire as wire

DETAIL_CHARS = 1000
_MUTABLE_TYPES = (list, dict, set, bytearray)


class Judge:
    def __init__(self, channel):
        self.channel = channel
        self.broken = ""
        self.references = {}  # number -> an object of the tests given to the solution
        self.reference_numbers = {}

    # -- values ---------------------------------------------------------------------------------------------------
    def other(self, value):
        if isinstance(value, Remote):
            return ["h", object.__getattribute__(value, "_number")]
        name = getattr(value, "__name__", None)
        if type(name) is str and getattr(builtins, name, None) is value and callable(value):
            return ["bi", name]
        number = self.reference_numbers.get(id(value))
        if number is None:
            number = len(self.references) + 1
            self.references[number] = value
            self.reference_numbers[id(value)] = number
        return ["r", number]

    def enc(self, value):
        return wire.encode(value, self.other)

    def resolve(self, tag, body):
        if tag == "h":
            if type(body) is not int:
                raise ValueError("malformed handle")
            return Remote(self, body)
        if tag == "r":
            return self.references[body]
        if tag == "bi":  # only pure builtins: a test may call what the solution returned
            if body not in PURE_BUILTINS:
                raise ValueError("not a builtin the solution may hand to the tests")
            return getattr(builtins, body)
        if tag == "m":
            return ModuleName(body)
        raise ValueError(tag)

    def dec(self, data):
        try:
            return wire.decode(data, self.resolve)
        except Exception as exc:  # noqa: BLE001 - anything malformed from the solution's side
            self.fail(f"the solution's process sent a malformed value ({type(exc).__name__})")

    def fail(self, reason):
        if not self.broken:
            self.broken = reason[:DETAIL_CHARS]
        raise wire.Gone(reason)

    # -- requests -------------------------------------------------------------------------------------------------
    def ask(self, request, args=None, kwargs=None):
        """Send a request, serve the solution's callbacks until its answer arrives; the answer's value."""
        if self.broken:
            raise wire.Gone(self.broken)
        try:
            self.channel.send(request)
            while True:
                message = self.channel.receive()
                if type(message) is not dict:
                    self.fail("the solution's process sent a malformed message")
                if message.get("op") == "callback":
                    self.channel.send(self.callback(message))
                    continue
                break
        except wire.Gone as exc:
            self.fail(self.broken or f"the solution's process ended or broke the channel ({exc})")
        except wire.TooLarge as exc:
            self.fail(f"a value too large to pass ({exc})")
        if "raise" in message:
            raise self.exception(message["raise"])
        if "ok" not in message:
            self.fail("the solution's process sent a malformed message")
        value = self.dec(message["ok"])
        for key, state in message.get("mut") or ():
            original = args[key] if type(key) is int and args is not None and 0 <= key < len(args) else (
                kwargs.get(key) if kwargs is not None and type(key) is str else None)
            if isinstance(original, _MUTABLE_TYPES):
                update_in_place(original, self.dec(state))
        return value

    def exception(self, info):
        try:
            name, args, line = info[0], self.dec(info[1]), info[2]
        except (TypeError, IndexError, KeyError):
            self.fail("the solution's process sent a malformed exception")
        cls = getattr(builtins, name, None) if type(name) is str else None
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = Exception
        if not issubclass(cls, Exception):  # SystemExit, KeyboardInterrupt, GeneratorExit: not an answer
            self.fail(f"the solution raised {cls.__name__}")
        args = tuple(args) if type(args) is list else ()
        try:
            error = cls(*args)
        except Exception:  # noqa: BLE001 - a type whose constructor wants other arguments
            error = cls.__new__(cls)
            error.args = args
        error.evalkit_line = line if type(line) is str else ""
        return error

    def callback(self, message):
        """The solution calls an object of the tests: call it here, answer with plain data or a reference."""
        try:
            target = self.references[message["r"]]
            args, kwargs = self.dec(message["args"]), self.dec(message["kwargs"])
            return {"ok": self.enc(target(*args, **dict(kwargs)))}
        except wire.Gone:
            raise
        except Exception as exc:  # noqa: BLE001 - the test's callable failed: the solution sees that exception
            return {"raise": [builtin_name(exc), self.enc(list(exc.args)), ""]}


def builtin_name(exc):
    for cls in type(exc).__mro__:
        if getattr(builtins, cls.__name__, None) is cls:
            return cls.__name__
    return "Exception"


def update_in_place(original, state):
    if not any(isinstance(original, base) and isinstance(state, base) for base in _MUTABLE_TYPES):
        return
    if state == original and (not isinstance(original, dict) or list(state.items()) == list(original.items())):
        return  # unchanged (a dict reordered in place is a change: its order is part of what the tests see)
    if isinstance(original, (list, bytearray)):
        original[:] = state
    elif isinstance(original, dict):
        original.clear()
        original.update(state)
    elif isinstance(original, set):
        original.clear()
        original.update(state)


PURE_BUILTINS = frozenset(
    "abs all any ascii bin bool bytearray bytes callable chr complex dict divmod enumerate filter float format "
    "frozenset hash hex int isinstance issubclass iter len list map max min next oct ord pow range repr reversed "
    "round set slice sorted str sum tuple zip".split()
)


class ModuleName:
    """A module the solution's process holds, by name. Bound in the tests as the evaluator's own import of it
    when the solution defined it as a global; anywhere else (a returned value, an exception's argument) it is an
    opaque object equal only to itself — never the string of its name."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name if type(name) is str else ""

    def __repr__(self):
        return f"<module {self.name!r} of the solution>"


#: Modules the evaluator never imports on the solution's say-so (side effects at import time).
NEVER_IMPORTED = {"antigravity", "this", "__hello__", "__phello__", "idlelib", "tkinter", "turtle", "turtledemo",
                  "test", "pydoc", "webbrowser", "ensurepip", "venv", "lib2to3", "sandbox_evaluator", "sandbox_wire"}


def importable(name):
    """Only the standard library (or a module already loaded here), never one with import-time side effects."""
    top = name.split(".")[0]
    if top in NEVER_IMPORTED or not all(part.isidentifier() for part in name.split(".")) \
            or "__main__" in name.split("."):  # a package's __main__ runs its program when imported
        return False
    return top in getattr(sys, "stdlib_module_names", ()) or name in sys.modules


class Remote:
    """An object that stays in the solution's process. Equality and hashing are by identity (the object's own
    `__eq__` is never asked); everything else is asked of the solution and answered with plain data."""

    __slots__ = ("_judge", "_number")

    def __init__(self, judge, number):
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_number", number)

    def _ask(self, op, **fields):
        return object.__getattribute__(self, "_judge").ask({"op": op, "h": object.__getattribute__(self, "_number"),
                                                            **fields})

    def __call__(self, *args, **kwargs):
        judge = object.__getattribute__(self, "_judge")
        try:
            request = {"op": "call", "h": object.__getattribute__(self, "_number"), "args": judge.enc(list(args)),
                       "kwargs": judge.enc(dict(kwargs))}
        except (wire.TooLarge, RecursionError) as exc:
            raise ValueError(f"an argument too large to pass ({exc})") from None
        return judge.ask(request, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__") and name not in ("__name__", "__doc__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name, value):
        raise AttributeError("objects of the solution are read-only to the tests")

    def __bool__(self):
        return self._ask("bool") is True

    def __len__(self):
        value = self._ask("len")
        if type(value) is not int:
            raise TypeError("len() of the solution's object is not an int")
        return value

    def __iter__(self):
        return self._ask("iter")

    def __next__(self):
        return self._ask("next")

    def __getitem__(self, key):
        return self._ask("getitem", key=object.__getattribute__(self, "_judge").enc(key))

    def __contains__(self, item):
        return self._ask("contains", item=object.__getattribute__(self, "_judge").enc(item)) is True

    def __repr__(self):
        value = self._ask("repr")
        return value if type(value) is str else "<an object of the solution>"

    def __str__(self):
        value = self._ask("str")
        return value if type(value) is str else "<an object of the solution>"

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    def __hash__(self):
        return id(self)


def names_used(sources):
    """Names the tests' code refers to (the names of its code objects, a superset of the globals it loads; no
    `ast`, which is slow to import), None when it does not compile here (then every name of the solution)."""
    found = set()
    try:
        stack = [compile(source, "<tests>", "exec", dont_inherit=True) for source in sources]
        while stack:
            code = stack.pop()
            found.update(code.co_names)
            stack += [c for c in code.co_consts if type(c) is type(code)]
    except (SyntaxError, RecursionError, ValueError, MemoryError, TypeError):
        return None
    return sorted(n for n in found if not hasattr(builtins, n))


def describe(exc, sources):
    """A failure in one line: the failing assert's source, else 'Type: message' (capped)."""
    try:
        if isinstance(exc, AssertionError):
            trace, line = exc.__traceback__, ""
            for _ in range(10000):
                if trace is None:
                    break
                name = trace.tb_frame.f_code.co_filename
                if name in sources and 0 < trace.tb_lineno <= len(sources[name]):
                    line = sources[name][trace.tb_lineno - 1].strip()
                trace = trace.tb_next
            if line and not exc.args:
                return line[:DETAIL_CHARS]
            if line:
                return f"{line} ({str(exc)[:DETAIL_CHARS]})"[:DETAIL_CHARS]
        where = getattr(exc, "evalkit_line", "")
        if isinstance(exc, AssertionError) and where and not exc.args:
            return where[:DETAIL_CHARS]
        text = f"{type(exc).__name__}: {str(exc)[:DETAIL_CHARS]}"
        return (text + (f" (the solution's line: {where})" if where else ""))[:DETAIL_CHARS]
    except BaseException:  # noqa: BLE001 - an unprintable exception
        return f"{type(exc).__name__}"[:DETAIL_CHARS]


def judge(job, channel):
    judge = Judge(channel)
    tests, setup, prelude = job["tests"], job.get("setup", ""), job.get("prelude", "")
    script = job["mode"] == "script"
    names = None if script else names_used([prelude, setup, tests])
    # Nothing of the tests goes to the solution: not even the names they use (which of its own names the tests
    # use is all it learns, and only through the "globals" request below).
    start = {"code": job["code"], "mode": job["mode"], "limits": job["limits"]}
    try:
        defined = judge.ask(start)
        if script:
            return {"status": "passed"}
        if type(defined) is not list or not all(type(n) is str for n in defined):
            return {"status": "failed", "detail": "a malformed answer from the solution's process"}
        wanted = [n for n in defined if not hasattr(builtins, n) and (names is None or n in names)]
        defined = judge.ask({"op": "globals", "names": wanted}) if wanted else {}
    except wire.Gone:
        return {"status": "solution_ended", "detail": judge.broken}
    except Exception as exc:  # noqa: BLE001 - the solution failed before the tests
        return {"status": "failed", "detail": describe(exc, {}), "type": builtin_name(exc)}
    if type(defined) is not dict:
        return {"status": "failed", "detail": "a malformed answer from the solution's process"}
    sources = {}
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        for name, value in defined.items():
            if type(name) is not str or hasattr(builtins, name) or (names is not None and name not in names):
                continue
            if isinstance(value, ModuleName):
                if not importable(value.name):
                    continue
                try:
                    namespace[name] = __import__(value.name)
                    for part in value.name.split(".")[1:]:
                        namespace[name] = getattr(namespace[name], part)
                except Exception:  # noqa: BLE001 - not importable here: the tests get a NameError
                    pass
                continue
            namespace[name] = value
        # The tests' own imports and setup come after the solution's names: a solution's function named `math`
        # never replaces the `math` the tests import.
        run(prelude, "<prelude>", namespace, sources)
        run(setup, "<setup>", namespace, sources)
        run(tests, "<tests>", namespace, sources)
    except wire.Gone:
        pass
    except BaseException as exc:  # noqa: BLE001 - any failure of the tests is a failed solution
        if not judge.broken:
            return {"status": "failed", "detail": describe(exc, sources), "type": builtin_name(exc)}
    if judge.broken:
        return {"status": "solution_ended", "detail": judge.broken}
    return {"status": "passed"}


def run(source, filename, namespace, sources):
    if source.strip():
        sources[filename] = source.splitlines()
        exec(compile(source, filename, "exec", dont_inherit=True), namespace)


def main():
    to_solution, from_solution, verdict_fd = (int(a) for a in sys.argv[1:4])
    job = marshal.loads(sys.stdin.buffer.read())  # from the harness
    import resource  # noqa: PLC0415

    for name, value in job.get("evaluator_limits", {}).items():
        resource.setrlimit(getattr(resource, name), (value[0], value[1]))
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
    try:
        verdict = judge(job, wire.Channel(from_solution, to_solution, writes="marshal"))
    except BaseException as exc:  # noqa: BLE001 - the evaluator itself failed: say so, never pass
        verdict = {"status": "evaluator_error", "detail": f"{type(exc).__name__}: {str(exc)[:DETAIL_CHARS]}"}
    data = marshal.dumps(verdict)
    view = memoryview(data)
    while view:
        view = view[os.write(verdict_fd, view):]
    os.close(verdict_fd)


def entry():
    main()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    entry()
