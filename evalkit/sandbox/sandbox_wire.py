"""The wire between a sandboxed solution and the trusted evaluator: framed JSON messages and tagged plain values.

Standard library only and no evalkit imports: this file is copied next to evalkit/sandbox/sandbox_server.py (into the
solution's sandbox) and next to evalkit/sandbox/sandbox_evaluator.py (the evaluator's own folder) and imported there as
`sandbox_wire`. What the solution's process writes is JSON, read by the C scanner of the standard library's `_json`
(no `re`, so both interpreters start fast): it builds nothing but str / int / float / bool / None / list / dict,
whatever bytes arrive (NaN and Infinity refused). What the evaluator writes is marshal data (trusted to untrusted:
only the solution's process unmarshals it).

Values cross as plain data, read through their base type's own methods (`int.__int__`, `str.__str__`,
`list.__iter__`, `dict.items`...), so a Counter or defaultdict arrives as the dict it is, a namedtuple as its
tuple, an int subclass as its int, and a subclass's own `__eq__`/`__iter__` is never called by the encoder.
Anything else becomes a reference the `other` hook makes (a handle to an object that stays in its process).
Tags (a JSON array starting with a tag; JSON null/true/false/str/number stand for themselves):
  ["i", hex] big int · ["c", re, im] complex · ["b", hex] bytes · ["ba", hex] bytearray · ["l", [..]] list ·
  ["t", [..]] tuple · ["s", [..]] set · ["fs", [..]] frozenset · ["d", [[k, v], ..]] dict ·
  ["h", n] a handle to an object of the solution · ["r", n] an object of the tests (called back) ·
  ["bi", name] a builtin function or type (by name) · ["m", name] a module (imported by name on the other side)
  ["od", [[k, v], ..]] OrderedDict · ["ct", [[k, v], ..]] Counter · ["dq", [..]] deque · ["fr", num, den] Fraction ·
  ["dc", text] Decimal — standard-library value types, recognised by exact type (from modules the sender has
  already imported) and rebuilt as the same type, so their equality (order for OrderedDict, zero counts for
  Counter, exact fractions and decimals) is Python's.
"""

import _json
import marshal
import os
import sys

MAX_MESSAGE = 32 << 20  # bytes of one message; larger is a protocol failure (of the side that sent it)
MAX_DEPTH = 200
MAX_ITEMS = 5_000_000
_SMALL = 1 << 62
_FLOAT_NAMES = ("inf", "-inf", "nan")


class Gone(BaseException):
    """The other side ended, or sent something that is not a message. BaseException: a test's own
    `except Exception` must not swallow it."""


class TooLarge(Exception):
    """A value nested too deeply or holding too many items to cross."""


class _Strict:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = {}

    @staticmethod
    def parse_constant(name):
        raise ValueError(f"{name} is not a value")


_scan = _json.make_scanner(_Strict())
_dump = _json.make_encoder(None, None, _json.encode_basestring_ascii, None, ":", ",", False, False, False)


def to_json(message):
    return "".join(_dump(message, 0)).encode("ascii")


def from_json(data):
    text = data.decode("ascii")
    value, end = _scan(text, 0)
    if end != len(text):
        raise ValueError("extra data")
    return value


class Channel:
    """Length-prefixed messages over a pair of pipes: `writes` says how this side writes ("json" on the solution's
    side, "marshal" on the evaluator's), and it reads the other."""

    def __init__(self, read_fd, write_fd, writes):
        self.read_fd, self.write_fd = read_fd, write_fd
        self._dumps = to_json if writes == "json" else marshal.dumps
        self._loads = marshal.loads if writes == "json" else from_json

    def send(self, message):
        data = self._dumps(message)
        if len(data) > MAX_MESSAGE:
            raise TooLarge(f"a message of {len(data)} bytes")
        view = memoryview(len(data).to_bytes(4, "big") + data)
        try:
            while view:
                view = view[os.write(self.write_fd, view):]
        except OSError as exc:
            raise Gone(f"the other side closed the channel ({exc.strerror})") from None

    def receive(self):
        size = int.from_bytes(self._exactly(4), "big")
        if size > MAX_MESSAGE:
            raise Gone(f"a message of {size} bytes (more than {MAX_MESSAGE})")
        try:
            return self._loads(self._exactly(size))
        except Exception as exc:  # noqa: BLE001 - malformed JSON, too deep, bad UTF-8: not a message
            raise Gone(f"a malformed message ({type(exc).__name__})") from None

    def _exactly(self, size):
        chunks, left = [], size
        while left:
            try:
                chunk = os.read(self.read_fd, min(left, 1 << 20))
            except OSError as exc:
                raise Gone(f"the channel failed ({exc.strerror})") from None
            if not chunk:
                raise Gone("the other side ended")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


def encode(value, other, ordered_dict=None):
    """`value` as tagged JSON; `other(value)` encodes what is not plain data (a handle or a reference).
    A value too deep or too large as a whole becomes `other(value)` too."""
    try:
        return _encode(value, other, ordered_dict, 0, [MAX_ITEMS])
    except (TooLarge, RecursionError):
        return other(value)


def _encode(value, other, ordered_dict, depth, budget):
    budget[0] -= 1
    if depth > MAX_DEPTH or budget[0] < 0:
        raise TooLarge("a value nested too deeply or too large")
    if value is None or value is True or value is False:
        return value
    kind = type(value)
    if kind is str:
        return value
    if kind is int:
        return value if -_SMALL < value < _SMALL else ["i", int.__format__(value, "x")]
    if kind is float:
        return value if value == value and value not in (float("inf"), float("-inf")) else ["fl", repr(value)]
    deeper = depth + 1
    if kind is list:
        return ["l", [_encode(item, other, ordered_dict, deeper, budget) for item in value]]
    if kind is tuple:
        return ["t", [_encode(item, other, ordered_dict, deeper, budget) for item in value]]
    if kind is dict:
        return ["d", [[_encode(k, other, ordered_dict, deeper, budget), _encode(v, other, ordered_dict, deeper, budget)]
                      for k, v in value.items()]]
    special = _value_type(value, other, depth, budget)
    if special is not None:
        return special
    # Subclasses (and the rarer exact types): read through the base type's own methods.
    if isinstance(value, bool):
        return bool.__bool__(value)
    if isinstance(value, int):
        return _encode(int.__int__(value), other, ordered_dict, depth, budget)
    if isinstance(value, float):
        return _encode(float.__float__(value), other, ordered_dict, depth, budget)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, complex):
        return ["c", _encode(complex.__dict__["real"].__get__(value), other, ordered_dict, depth, budget),
                _encode(complex.__dict__["imag"].__get__(value), other, ordered_dict, depth, budget)]
    if isinstance(value, bytes):
        return ["b", bytes.hex(value)]
    if isinstance(value, bytearray):
        return ["ba", bytearray.hex(value)]
    if isinstance(value, list):
        return ["l", [_encode(item, other, ordered_dict, deeper, budget) for item in list.__iter__(value)]]
    if isinstance(value, tuple):
        return ["t", [_encode(item, other, ordered_dict, deeper, budget) for item in tuple.__iter__(value)]]
    if isinstance(value, dict):
        if ordered_dict is not None and isinstance(value, ordered_dict):
            pairs = [(k, dict.__getitem__(value, k)) for k in ordered_dict.__iter__(value)]
        else:
            pairs = dict.items(value)
        return ["d", [[_encode(k, other, ordered_dict, deeper, budget), _encode(v, other, ordered_dict, deeper, budget)]
                      for k, v in pairs]]
    if isinstance(value, frozenset):
        return ["fs", [_encode(item, other, ordered_dict, deeper, budget) for item in frozenset.__iter__(value)]]
    if isinstance(value, set):
        return ["s", [_encode(item, other, ordered_dict, deeper, budget) for item in set.__iter__(value)]]
    return other(value)


def _value_type(value, other, depth, budget):
    """The tagged form of an OrderedDict, Counter, deque, Fraction or Decimal (exact types only), else None."""
    kind = type(value)
    collections, fractions, decimal = (sys.modules.get(name) for name in ("collections", "fractions", "decimal"))
    deeper = depth + 1
    if collections is not None and kind in (collections.OrderedDict, collections.Counter):
        keys = collections.OrderedDict.__iter__(value) if kind is collections.OrderedDict else dict.__iter__(value)
        pairs = [[_encode(k, other, None, deeper, budget), _encode(dict.__getitem__(value, k), other, None, deeper,
                                                                    budget)] for k in keys]  # fmt: skip
        return ["od" if kind is collections.OrderedDict else "ct", pairs]
    if collections is not None and kind is collections.deque:
        return ["dq", [_encode(item, other, None, deeper, budget) for item in collections.deque.__iter__(value)]]
    if fractions is not None and kind is fractions.Fraction:
        return ["fr", _encode(int(value.numerator), other, None, deeper, budget),
                _encode(int(value.denominator), other, None, deeper, budget)]
    if decimal is not None and kind is decimal.Decimal:
        return ["dc", decimal.Decimal.__str__(value)]
    return None


def same_order(make, items):
    """A set of `items` that iterates in the order the sender's set did. Both sides share PYTHONHASHSEED, so
    each item's slot in a table of a given size is known: for table sizes from small to large, the items' slots
    under CPython's linear probing are worked out from the order; the first size that fits is built presized
    (`set(dict)` sizes the table once, before inserting in the dict's order), with placeholder ints on free slots
    to reach that size, removed afterwards; then a few other histories of a table. Else a plain set: the order
    of a set is an implementation detail, and only a test that relies on it sees the difference."""
    first = make(items)
    if len(items) < 2 or len(items) > 100_000 or list(first) == items:
        return first
    try:
        hashes = [hash(item) for item in items]
        size = 8
        while size <= 64 * len(items):
            built = _presized(items, hashes, size) if 2 * len(items) < size else None
            if built is not None and list(built) == items:
                return built if make is set else make(built) if list(make(built)) == items else first
            size *= 2
    except Exception:  # noqa: BLE001 - an item whose hash fails: keep the plain set
        return first
    for start in (make(dict.fromkeys(items)), make(reversed(items)), first):  # other histories of a table
        candidate = start
        for _ in range(3):
            candidate = make(list(candidate))
            if list(candidate) == items:
                return candidate
    return first


def _presized(items, hashes, size):
    """`items` in a fresh table of `size` slots, if inserting them in this order under CPython's probing (9 linear
    probes, then perturbation) leaves them in slots in this order; None otherwise."""
    mask, taken, probed, slots = size - 1, set(), set(), []
    for value in hashes:
        index, perturb = value & mask, value & 0xFFFFFFFFFFFFFFFF
        slot = None
        while slot is None:
            for position in range(index, index + (9 if index + 9 <= mask else 0) + 1):
                probed.add(position)
                if position not in taken:
                    slot = position
                    break
            perturb >>= 5
            index = (index * 5 + 1 + perturb) & mask
        taken.add(slot)
        slots.append(slot)
    if slots != sorted(slots):
        return None
    needed = max(0, size // 4 - len(items))  # set(dict) of n keys makes the smallest power of 2 above 2n
    members = set(items)
    placeholders = []
    for q in range(size):
        if len(placeholders) == needed:
            break
        if q in probed:
            continue
        candidate = q + size
        while candidate in members:
            candidate += size
        placeholders.append(candidate)
    if len(placeholders) < needed:
        return None
    built = set(dict.fromkeys(placeholders + list(items)))
    for placeholder in placeholders:
        built.discard(placeholder)
    return built


def decode(data, resolve):
    """The value `encode` described; `resolve(tag, body)` turns the reference tags (h, r, bi, m) into objects.
    Anything malformed raises (the caller turns it into a protocol failure)."""
    return _decode(data, resolve, 0, [MAX_ITEMS])


def _decode(data, resolve, depth, budget):
    budget[0] -= 1
    if depth > MAX_DEPTH + 5 or budget[0] < 0:
        raise ValueError("nested too deeply or too large")
    kind = type(data)
    if data is None or kind is bool or kind is str or kind is int or kind is float:
        return data
    if kind is not list or len(data) < 2:
        raise ValueError("malformed value")
    tag, body = data[0], data[1]
    deeper = depth + 1
    if tag == "l":
        return [_decode(item, resolve, deeper, budget) for item in body]
    if tag == "t":
        return tuple(_decode(item, resolve, deeper, budget) for item in body)
    if tag == "d":
        return {_decode(k, resolve, deeper, budget): _decode(v, resolve, deeper, budget) for k, v in body}
    if tag == "s":
        return same_order(set, [_decode(item, resolve, deeper, budget) for item in body])
    if tag == "fs":
        return same_order(frozenset, [_decode(item, resolve, deeper, budget) for item in body])
    if tag == "i":
        return int(body, 16)
    if tag == "fl":
        if body not in _FLOAT_NAMES:
            raise ValueError("malformed float")
        return float(body)
    if tag == "c":
        return complex(_decode(body, resolve, deeper, budget), _decode(data[2], resolve, deeper, budget))
    if tag == "b":
        return bytes.fromhex(body)
    if tag == "ba":
        return bytearray.fromhex(body)
    if tag in ("h", "r", "bi", "m"):
        return resolve(tag, body)
    if tag in ("od", "ct"):
        import collections  # noqa: PLC0415 - only when such a value crosses

        pairs = [(_decode(k, resolve, deeper, budget), _decode(v, resolve, deeper, budget)) for k, v in body]
        return collections.OrderedDict(pairs) if tag == "od" else collections.Counter(dict(pairs))
    if tag == "dq":
        import collections  # noqa: PLC0415

        return collections.deque(_decode(item, resolve, deeper, budget) for item in body)
    if tag == "fr":
        numerator, denominator = _decode(body, resolve, deeper, budget), _decode(data[2], resolve, deeper, budget)
        if type(numerator) is not int or type(denominator) is not int or denominator <= 0:
            raise ValueError("malformed fraction")
        import fractions  # noqa: PLC0415

        return fractions.Fraction(numerator, denominator)
    if tag == "dc":
        if type(body) is not str or len(body) > 1000:
            raise ValueError("malformed decimal")
        import decimal  # noqa: PLC0415

        return decimal.Decimal(body)
    raise ValueError(f"unknown tag {tag!r}")
