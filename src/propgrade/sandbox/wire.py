"""Framing and value codec for the data that crosses the worker boundary.

A frame is a 4-byte big-endian header length, a UTF-8 JSON header, then raw blobs whose
byte lengths the header lists under ``"blobs"``. Arrays travel as little-endian C-order
bytes described in JSON as ``{"blob": i, "dtype": "<f8", "shape": [...]}``.

The trusted side decodes bytes written by a hostile process, so every size is checked
against a cap before anything is read or allocated, the JSON structure is validated
strictly and only a whitelist of plain numeric dtypes is accepted. Nothing here unpickles
or evaluates anything. ``worker_main.py`` holds its own small copy of the encoder because
it must not import propgrade.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from propgrade.engine.frozen import FrozenMemo
from propgrade.errors import PropgradeError
from propgrade.sandbox.calls import (
    SENDABLE,
    Call,
    CallOutcome,
    FailureKind,
    ImportReport,
    StudentFailure,
    SubclassArray,
    Unsupported,
    Value,
    repeated_arrays,
)

HEADER_LIMIT = 1 << 20
DEFAULT_FRAME_LIMIT = 64 << 20
MAX_DEPTH = 4  # nesting of tuples/lists/dicts inside one value
MAX_ITEMS = 64  # items in one tuple/list/dict
MAX_ARGS = 64  # positional arguments of one call
MAX_NDIM = 8
MAX_TEXT = 8192  # longest string accepted inside a value or message
MAX_FUNCTIONS = 1000  # public callables an import report may list

ALLOWED_DTYPES: frozenset[str] = frozenset(
    {
        "|b1",
        "|i1",
        "<i2",
        "<i4",
        "<i8",
        "|u1",
        "<u2",
        "<u4",
        "<u8",
        "<f2",
        "<f4",
        "<f8",
        "<c8",
        "<c16",
    }
)

_LENGTH = struct.Struct(">I")


class WireError(PropgradeError):
    """Bytes from the worker (or a value to send) do not follow the wire format."""


class UnsendableValue(WireError, TypeError):
    """A value the grader passes to a student function that cannot cross the boundary."""

    def __init__(self, what: str, where: str = "") -> None:
        place = f"{where}: " if where else ""
        super().__init__(f"cannot send {place}{what}; what can be sent: {SENDABLE}")
        self.what = what
        self.where = where

    def inside(self, prefix: str) -> UnsendableValue:
        """The same complaint, about the container that holds the value at ``prefix``."""
        return UnsendableValue(self.what, prefix + self.where)


class OverBudget(WireError):
    """A frame announces more bytes than the reply it should be may hold."""

    def __init__(self, announced: int, budget: int) -> None:
        super().__init__(f"the reply announces {announced} bytes, over its budget of {budget}")
        self.announced = announced
        self.budget = budget


@dataclass(frozen=True)
class Frame:
    header: dict[str, Any]
    blobs: tuple[memoryview, ...]


def encode_frame(header: Mapping[str, object], blobs: Sequence[bytes] = ()) -> bytes:
    """Serialise one frame; ``header`` must not already contain ``"blobs"``."""
    if "blobs" in header:
        raise ValueError("the frame header key 'blobs' is reserved for blob lengths")
    full = dict(header)
    full["blobs"] = [len(blob) for blob in blobs]
    text = json.dumps(full, separators=(",", ":")).encode("utf-8")
    if len(text) > HEADER_LIMIT:
        raise WireError(f"frame header too large: {len(text)} bytes > {HEADER_LIMIT}")
    return b"".join([_LENGTH.pack(len(text)), text, *blobs])


def decode_frame(data: bytes, *, max_frame_bytes: int = DEFAULT_FRAME_LIMIT) -> Frame:
    """Decode exactly one complete frame held in ``data``."""
    reader = FrameReader(max_frame_bytes=max_frame_bytes)
    reader.feed(data)
    frame = reader.next_frame()
    if frame is None:
        raise WireError(f"incomplete frame: {len(data)} bytes")
    if reader.buffered:
        raise WireError(f"{reader.buffered} bytes after the end of the frame")
    return frame


class FrameReader:
    """Incremental frame parser for bytes arriving from a non-blocking pipe.

    Checks run as soon as the bytes that carry a size have arrived, so a hostile length
    is rejected before the body it announces is waited for or stored.
    """

    def __init__(self, *, max_frame_bytes: int = DEFAULT_FRAME_LIMIT) -> None:
        # Either limit may be lowered for the next frame (a call's reply budget) and set
        # back after it: a frame's sizes are checked when its header arrives.
        self.max_frame_bytes = max_frame_bytes
        self.max_header_bytes = HEADER_LIMIT
        self._buf = bytearray()
        self._header: dict[str, Any] | None = None
        self._header_end = 0
        self._frame_end = 0

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        self._buf += data
        self._check_sizes()

    def next_frame(self) -> Frame | None:
        self._check_sizes()
        if self._header is None or len(self._buf) < self._frame_end:
            return None
        body = bytes(self._buf[self._header_end : self._frame_end])
        view = memoryview(body)
        blobs: list[memoryview] = []
        offset = 0
        for length in self._header["blobs"]:
            blobs.append(view[offset : offset + length])
            offset += length
        header = self._header
        del self._buf[: self._frame_end]
        self._header = None
        return Frame(header, tuple(blobs))

    def _check_sizes(self) -> None:
        if self._header is not None or len(self._buf) < _LENGTH.size:
            return
        (header_len,) = _LENGTH.unpack_from(self._buf)
        if header_len > HEADER_LIMIT:
            raise WireError(f"frame header length {header_len} exceeds the limit")
        if header_len > self.max_header_bytes or _LENGTH.size + header_len > self.max_frame_bytes:
            raise OverBudget(_LENGTH.size + header_len, self.max_frame_bytes)
        header_end = _LENGTH.size + header_len
        if len(self._buf) < header_end:
            return
        header = _parse_header(bytes(self._buf[_LENGTH.size : header_end]))
        total = header_end + sum(header["blobs"])
        if total > self.max_frame_bytes:
            raise OverBudget(total, self.max_frame_bytes)
        self._header, self._header_end, self._frame_end = header, header_end, total


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of duplicate keys; a forged reply could then read one way
    # to a check here and another to a person reading the raw bytes.
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return obj


def _parse_header(raw: bytes) -> dict[str, Any]:
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        detail = f"{type(exc).__name__}: {str(exc)[:100]}"
        raise WireError(f"frame header is not valid JSON: {detail}") from None
    if type(header) is not dict:
        raise WireError("frame header is not a JSON object")
    lengths = header.get("blobs")
    if type(lengths) is not list or not all(type(n) is int and n >= 0 for n in lengths):
        raise WireError("frame header has no valid 'blobs' list")
    return header


class BlobTable:
    """Collects array bytes for one frame, storing each distinct array once."""

    def __init__(self, *, dedupe: bool = True) -> None:
        # dedupe=False numbers every array anew, as the worker's encoder does (the test
        # pinning the two encoders to each other compares their bytes).
        self.dedupe = dedupe
        self.blobs: list[bytes] = []
        self._by_id: dict[int, tuple[npt.NDArray[Any], dict[str, object]]] = {}
        self._by_content: dict[tuple[str, tuple[int, ...], bytes], int] = {}
        # While one call is encoded: the arrays it passes more than once, by id, each with
        # the number that tells the worker to hand over one object for all its places.
        self.aliases: dict[int, int] = {}

    def add(self, array: npt.NDArray[Any]) -> dict[str, object]:
        ref = self._add(array)
        if not self.aliases:
            return ref
        mark = self.aliases.get(id(array))
        return ref if mark is None else {**ref, "same": mark}

    def _add(self, array: npt.NDArray[Any]) -> dict[str, object]:
        # Identity first: the same object is usually passed to many calls of a batch.
        known = self._by_id.get(id(array)) if self.dedupe else None
        if known is not None and known[0] is array:
            return known[1]
        key = _payload(array)
        data = key[2]
        index = self._by_content.get(key) if self.dedupe else None
        if index is None:
            index = len(self.blobs)
            self.blobs.append(data)
            self._by_content[key] = index
        ref: dict[str, object] = {"blob": index, "dtype": key[0], "shape": list(array.shape)}
        self._by_id[id(array)] = (array, ref)
        return ref


_Payload = tuple[str, tuple[int, ...], bytes]

# The wire form of arrays that can never change (a drawn case's, ``frozen``): the same case
# goes to every student, and copying its bytes out again for each call (and hashing those
# fresh bytes to find repeats in a frame) was the codec's main cost. One bytes object per
# array also keeps its hash once computed.
_FROZEN_PAYLOADS: FrozenMemo[_Payload] = FrozenMemo()


def _payload(array: npt.NDArray[Any]) -> _Payload:
    """The array's dtype (little-endian), shape and C-order bytes."""
    return _FROZEN_PAYLOADS.get(array, _encode_payload)


def _encode_payload(array: npt.NDArray[Any]) -> _Payload:
    dtype = array.dtype.newbyteorder("<") if array.dtype.byteorder == ">" else array.dtype
    if dtype.str not in ALLOWED_DTYPES:
        raise UnsendableValue(f"an array of dtype {array.dtype}")
    return (dtype.str, tuple(array.shape), np.ascontiguousarray(array, dtype=dtype).tobytes())


def encode_value(value: Value, table: BlobTable, *, depth: int = 0) -> object:
    """JSON form of a trusted value (call arguments); arrays go into ``table``.

    Raises ``UnsendableValue`` for anything ``decode_value`` would refuse, so a grader's
    mistake is reported where it is made, not as a broken reply later.
    """
    kind = type(value)
    if kind is np.ndarray:  # most values sent are arrays: they take the first test
        return table.add(value)  # type: ignore[arg-type]
    if value is None or kind is bool or kind is float:
        return value
    if kind is int:
        assert isinstance(value, int)
        if not -(2**63) <= value < 2**64:
            raise UnsendableValue(f"the int {str(value)[:30]}... is out of range (64 bits)")
        return value
    if kind is str:
        assert isinstance(value, str)
        if len(value) > MAX_TEXT:
            raise UnsendableValue(f"a str of {len(value)} characters (at most {MAX_TEXT})")
        return value
    if isinstance(value, np.ndarray):
        return table.add(value)
    if isinstance(value, np.generic) and value.dtype.kind in "biufc":
        return encode_value(value.item(), table, depth=depth)
    if kind is complex:
        assert isinstance(value, complex)
        return {"complex": [value.real, value.imag]}
    if isinstance(value, tuple | list | dict):
        if depth >= MAX_DEPTH:
            raise UnsendableValue(f"containers nested more than {MAX_DEPTH} deep")
        if len(value) > MAX_ITEMS:
            raise UnsendableValue(f"a {kind.__name__} of {len(value)} items (at most {MAX_ITEMS})")
        if not isinstance(value, dict):
            return [_encode_at(i, item, table, depth + 1) for i, item in enumerate(value)]
        pairs = []
        for key, item in value.items():
            if type(key) is not str:
                raise UnsendableValue(f"a dict with a key of type {type(key).__name__}")
            if len(key) > MAX_TEXT:
                raise UnsendableValue(f"a dict key of {len(key)} characters")
            pairs.append([key, _encode_at(key, item, table, depth + 1)])
        return {"dict": pairs}
    raise UnsendableValue(f"a value of type {kind.__name__}")


def _encode_at(index: int | str, value: Value, table: BlobTable, depth: int) -> object:
    """``value`` encoded as item ``index`` of a list or key ``index`` of a dict."""
    try:
        return encode_value(value, table, depth=depth)
    except UnsendableValue as exc:
        # Formatted only on failure: every value sent passes through here.
        where = f"[{index}]" if type(index) is int else f"[{str(index)[:40]!r}]"
        raise exc.inside(where) from None


def decode_value(obj: object, blobs: Sequence[memoryview | bytes], *, depth: int = 0) -> Value:
    """Strictly decode the JSON form of a value; arrays are fresh writable copies."""
    kind = type(obj)
    if obj is None or kind is bool or kind is float:
        return obj  # type: ignore[return-value]
    if kind is int:
        assert isinstance(obj, int)
        if not -(2**63) <= obj < 2**64:
            raise WireError("integer out of range")
        return obj
    if kind is str:
        assert isinstance(obj, str)
        if len(obj) > MAX_TEXT:
            raise WireError(f"string of {len(obj)} characters exceeds the limit of {MAX_TEXT}")
        return obj
    if kind is list:
        assert isinstance(obj, list)
        if depth >= MAX_DEPTH or len(obj) > MAX_ITEMS:
            raise WireError("tuple too large or nested too deep")
        return tuple(decode_value(item, blobs, depth=depth + 1) for item in obj)
    if kind is dict:
        assert isinstance(obj, dict)
        return _decode_tagged(obj, blobs, depth)
    raise WireError(f"unexpected JSON value of type {kind.__name__}")


def _decode_tagged(obj: dict[str, Any], blobs: Sequence[memoryview | bytes], depth: int) -> Value:
    keys = set(obj)
    if keys == {"blob", "dtype", "shape"}:
        return _decode_array(obj, blobs)
    if keys == {"blob", "dtype", "shape", "subclass"}:
        name = obj["subclass"]
        if type(name) is not str or len(name) > MAX_TEXT:
            raise WireError("malformed 'subclass' of an array")
        array = _decode_array({k: obj[k] for k in ("blob", "dtype", "shape")}, blobs)
        assert isinstance(array, np.ndarray)
        marked = array.view(SubclassArray)
        marked.type_name = name
        return marked
    if keys == {"dict"}:
        return _decode_dict(obj["dict"], blobs, depth)
    if keys == {"unsupported"}:
        name = obj["unsupported"]
        if type(name) is not str or len(name) > MAX_TEXT:
            raise WireError("malformed 'unsupported' value")
        return Unsupported(name)
    if keys == {"complex"}:
        parts = obj["complex"]
        if type(parts) is not list or len(parts) != 2:
            raise WireError("malformed complex value")
        re, im = (_number(part) for part in parts)
        return complex(re, im)
    raise WireError(f"unknown tagged value with keys {str(sorted(keys)[:5])[:100]}")


def _decode_dict(pairs: object, blobs: Sequence[memoryview | bytes], depth: int) -> Value:
    # Pairs, not a JSON object: json.loads would merge duplicate keys silently, and a
    # reply must say exactly one thing.
    if type(pairs) is not list:
        raise WireError("malformed dict value")
    assert isinstance(pairs, list)
    if depth >= MAX_DEPTH or len(pairs) > MAX_ITEMS:
        raise WireError("dict too large or nested too deep")
    decoded: dict[str, Value] = {}
    for pair in pairs:
        if type(pair) is not list or len(pair) != 2:
            raise WireError("malformed dict item")
        key, item = pair
        if type(key) is not str:
            raise WireError(f"dict key of type {type(key).__name__}; keys must be strings")
        if len(key) > MAX_TEXT:
            raise WireError(f"dict key of {len(key)} characters exceeds the limit of {MAX_TEXT}")
        if key in decoded:
            raise WireError(f"duplicate dict key {key[:40]!r}")
        decoded[key] = decode_value(item, blobs, depth=depth + 1)
    return decoded


def _number(obj: object) -> float:
    if type(obj) is float:
        assert isinstance(obj, float)
        return obj
    if type(obj) is int:
        assert isinstance(obj, int)
        if abs(obj) > 2**64:
            raise WireError("integer out of range")
        return float(obj)
    raise WireError("expected a number")


def _decode_array(obj: dict[str, Any], blobs: Sequence[memoryview | bytes]) -> Value:
    index, dtype_str, shape = obj["blob"], obj["dtype"], obj["shape"]
    if type(index) is not int or not 0 <= index < len(blobs):
        raise WireError("array refers to a missing blob")
    if type(dtype_str) is not str or dtype_str not in ALLOWED_DTYPES:
        raise WireError(f"array dtype {str(dtype_str)[:40]!r} is not allowed")
    if type(shape) is not list or len(shape) > MAX_NDIM:
        raise WireError("array shape is malformed or has too many dimensions")
    if not all(type(n) is int and n >= 0 for n in shape):
        raise WireError("array shape must hold non-negative integers")
    dtype = np.dtype(dtype_str)
    blob = blobs[index]
    if math.prod(shape) * dtype.itemsize != len(blob):
        described = str(shape)[:100]
        raise WireError(f"array of shape {described} and dtype {dtype_str} does not match its blob")
    try:
        return np.frombuffer(blob, dtype=dtype).reshape(shape).copy()
    except ValueError as exc:
        # The checks above should leave nothing numpy refuses; if one slips, the reply is
        # still the student's protocol failure, never the grader's internal error.
        raise WireError(f"array of shape {str(shape)[:100]} cannot be read: {exc}") from None


# -- protocol messages --------------------------------------------------------------------
# Requests: {"op": "run", "max_reply_bytes": n, "calls": [{"id", "function", "args",
# "kwargs", "instance", "trace", "echo_args", "max_reply_bytes"}]}, "kwargs" a list of
# [name, value] pairs, "instance" null or {"cls", "args", "kwargs", "steps": [[method,
# args, kwargs], ...]} (the object "function" is a method of), an array reference with
# "same": n the same object as every other one with that n in the call, a call's
# "max_reply_bytes" its reply budget (sandbox/budgets.py). Replies: one
# "ready" frame before the student's file is imported, one "import" frame, then one
# "result" frame per call, in order.


def encode_call(call: Call, table: BlobTable) -> tuple[list[object], list[list[object]]]:
    """A call's positional and keyword arguments in wire form; arrays go into ``table``."""
    fields = encode_call_fields(call, table)
    return fields["args"], fields["kwargs"]  # type: ignore[return-value]


def encode_call_fields(call: Call, table: BlobTable) -> dict[str, object]:
    """A call's ``args``, ``kwargs`` and ``instance`` (its object's recipe) in wire form.

    An array passed more than once within the call (``f(X, X)``, or ``train(X, y)`` then
    ``f(X)`` on the same object) is marked so that the worker passes one object to every
    place: code that is wrong only when its arguments alias can be tested. Arrays that are
    equal but not the same object arrive as separate copies.
    """
    table.aliases = repeated_arrays(call)
    try:
        args, kwargs = _encode_arguments(call.args, call.kwargs, table, "")
        instance: object = None
        recipe = call.instance
        if recipe is not None:
            if not recipe.cls.isidentifier():
                raise UnsendableValue(f"a class named {recipe.cls[:40]!r}")
            init_args, init_kwargs = _encode_arguments(
                recipe.args, recipe.kwargs, table, f"{recipe.cls}(): "
            )
            steps: list[object] = []
            for step in recipe.steps:
                if not step.method.isidentifier():
                    raise UnsendableValue(f"a method named {step.method[:40]!r}")
                encoded = _encode_arguments(step.args, step.kwargs, table, f"{step.method}(): ")
                steps.append([step.method, *encoded])
            instance = {"cls": recipe.cls, "args": init_args, "kwargs": init_kwargs}
            instance["steps"] = steps
    finally:
        table.aliases = {}
    return {"args": args, "kwargs": kwargs, "instance": instance}


def _encode_arguments(
    args: Sequence[Value], kwargs: Sequence[tuple[str, Value]], table: BlobTable, where: str
) -> tuple[list[object], list[list[object]]]:
    if len(args) > MAX_ARGS or len(kwargs) > MAX_ARGS:
        raise UnsendableValue(f"more than {MAX_ARGS} arguments")
    encoded: list[object] = []
    for i, arg in enumerate(args):
        try:
            encoded.append(encode_value(arg, table))
        except UnsendableValue as exc:
            raise exc.inside(f"{where}argument {i + 1}") from None
    pairs: list[list[object]] = []
    for name, value in kwargs:
        if type(name) is not str or not name.isidentifier():
            raise UnsendableValue(f"a keyword argument named {str(name)[:40]!r}")
        try:
            pairs.append([name, encode_value(value, table)])
        except UnsendableValue as exc:
            raise exc.inside(f"{where}{name}") from None
    return encoded, pairs


def request_frame(
    calls: Sequence[Mapping[str, object]], blobs: Sequence[bytes], *, max_reply_bytes: int
) -> bytes:
    """One request running ``calls`` (already in wire form) against ``blobs``."""
    header = {"op": "run", "max_reply_bytes": max_reply_bytes, "calls": list(calls)}
    return encode_frame(header, blobs)


def _text(header: dict[str, Any], key: str) -> str:
    value = header.get(key)
    if type(value) is not str:
        raise WireError(f"reply field {key!r} is not a string")
    return value[:MAX_TEXT]


def _check_keys(header: dict[str, Any], expected: set[str]) -> None:
    if set(header) != expected:
        unexpected = len(set(header) - expected)
        missing = sorted(expected - set(header))
        raise WireError(f"reply has {unexpected} unexpected fields and lacks {missing}")


_OK_KEYS = {"op", "id", "ok", "value", "seconds", "trace", "args_after", "blobs"}
_FAIL_KEYS = {"op", "id", "ok", "kind", "type", "message", "traceback", "blobs"}
_IMPORT_OK_KEYS = {"op", "ok", "functions", "blobs"}
_IMPORT_FAIL_KEYS = {"op", "ok", "kind", "type", "message", "traceback", "blobs"}


def parse_result(
    frame: Frame, call: Call, expected_id: int, since_sent: float, since_previous: float
) -> CallOutcome:
    """Decode a call's reply; a success's time is the worker's own, bounded by what we saw."""
    header = frame.header
    if header.get("op") != "result" or type(header.get("id")) is not int:
        raise WireError("expected a result frame")
    if header["id"] != expected_id:
        raise WireError(f"reply for another call while waiting for call {expected_id}")
    if header.get("ok") is True:
        _check_keys(header, _OK_KEYS)
        return CallOutcome(
            value=decode_value(header["value"], frame.blobs),
            trace_events=_trace_count(header["trace"]),
            args_after=_args_after(header["args_after"], frame.blobs),
            seconds=_seconds(header["seconds"], since_sent),
        )
    if header.get("ok") is not False:
        raise WireError("reply field 'ok' is not a boolean")
    _check_keys(header, _FAIL_KEYS)
    kind = _text(header, "kind")
    message = _text(header, "message")
    if kind == "missing":
        failure = StudentFailure(FailureKind.MISSING, message)
        return CallOutcome(failure=failure, seconds=since_previous)
    if kind == "too_large":
        failure = StudentFailure(FailureKind.TOO_LARGE, message)
        return CallOutcome(failure=failure, seconds=since_previous)
    if kind != "exception":
        raise WireError(f"unknown failure kind {kind[:40]!r}")
    failure = StudentFailure(
        FailureKind.EXCEPTION,
        f"{call.label}() raised {_text(header, 'type')}: {message}",
        _text(header, "traceback"),
    )
    return CallOutcome(failure=failure, seconds=since_previous)


def _trace_count(value: object) -> int | None:
    if value is None:
        return None
    if type(value) is int and -1 <= value < 2**62:
        return value
    raise WireError("reply field 'trace' is not a count")


def _args_after(value: object, blobs: Sequence[memoryview]) -> tuple[Value, ...] | None:
    if value is None:
        return None
    if type(value) is not list or len(value) > MAX_ARGS:
        raise WireError("reply field 'args_after' is not a list of arguments")
    assert isinstance(value, list)
    # Each argument is a value of its own, allowed the full depth, as when it was sent.
    return tuple(decode_value(item, blobs) for item in value)


def _seconds(value: object, bound: float) -> float:
    if type(value) is float and math.isfinite(value) and value >= 0:
        return min(value, bound)
    raise WireError("reply field 'seconds' is not a duration")


def parse_import(frame: Frame, name: str) -> ImportReport:
    """Decode the worker's report on importing the graded file ``name``."""
    header = frame.header
    if header.get("op") != "import":
        raise WireError("expected an import frame")
    if header.get("ok") is True:
        _check_keys(header, _IMPORT_OK_KEYS)
        functions = header["functions"]
        if type(functions) is not list or len(functions) > MAX_FUNCTIONS:
            raise WireError("import reply field 'functions' is not a list")
        if not all(type(f) is str and len(f) <= 200 for f in functions):
            raise WireError("import reply lists a function name that is not a string")
        return ImportReport(ok=True, functions=tuple(functions))
    if header.get("ok") is not False:
        raise WireError("import reply field 'ok' is not a boolean")
    _check_keys(header, _IMPORT_FAIL_KEYS)
    message = f"importing {name} failed: {_text(header, 'type')}: {_text(header, 'message')}"
    failure = StudentFailure(FailureKind.EXCEPTION, message, _text(header, "traceback"))
    return ImportReport(ok=False, failure=failure)
