"""Runs inside the untrusted worker process: imports the graded file and calls into it.

Started as ``python -I worker_main.py <graded_file> <module_name> <imports>`` in a scratch
directory (``imports``: the packages the assignment allows, comma-separated),
or forked from the zygote (``zygote_main.py``), which enters ``serve`` in the child with the
same fds 0-2 a started worker has. Standalone on purpose (stdlib and numpy only): importing
propgrade here would put the grader's code, and whatever it can reach, into the student's
process.

Everything this process sends may be forged by the student, so the trusted side decodes
it strictly; the care taken here (exact type checks, captured functions) keeps honest but
odd values, like an object whose ``__eq__`` is always true, from being misreported.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from types import FrameType, ModuleType, TracebackType
from typing import Any, NoReturn, cast

_LENGTH = struct.Struct(">I")
# The value caps of wire.py, mirrored: a value within them must decode there, and one
# beyond them is sent as "unsupported", never as bytes the grader would reject.
_MAX_DEPTH = 4
_MAX_ITEMS = 64
_MAX_TEXT = 8192
_HEADER_LIMIT = 1 << 20
_REPLY_HEADER_LIMIT = 64 * 1024  # budgets.HEADER_BYTES
_MAX_MESSAGE = 2000
_MAX_TRACEBACK = 4000
_MAX_NAME = 100
_MAX_FUNCTIONS = 1000
_TraceFunction = Callable[[FrameType, str, Any], Any]
_ALLOWED_DTYPES = frozenset(
    {"|b1", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8"}
    | {"<f2", "<f4", "<f8", "<c8", "<c16"}
)

# Captured before student code runs, so rebinding builtins or sys attributes later has
# no effect on how results are encoded or traced.
_type = type
_len = len
_issubclass = issubclass
_callable = callable
_getattr = getattr
_id = id
_str = str
_int = int
_float = float
_complex = complex
_bool = bool
_tuple: type[tuple[Any, ...]] = tuple
_list = list
_dict = dict
_BaseException = BaseException
_type_name = type.__dict__["__name__"].__get__
_settrace = sys.settrace
_gettrace = sys.gettrace
_setprofile = sys.setprofile
_getprofile = sys.getprofile
_perf_counter = time.perf_counter
_os_read = os.read
_os_write = os.write
_json_loads = json.loads


def _unencodable(obj: object) -> object:
    raise TypeError("not JSON data")


# Replies are encoded by C functions captured now, before any student code runs: json.dumps
# looks up json.JSONEncoder and json._default_encoder at call time, so a student who
# replaced those at import could rewrite every reply this process sends (e.g. trace counts).
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_c_encode_string = getattr(json.encoder, "c_encode_basestring_ascii", None)
if _c_make_encoder is not None and _c_encode_string is not None:
    _json_chunks = _c_make_encoder(
        None, _unencodable, _c_encode_string, None, ":", ",", False, False, True
    )

    def _json_dumps(obj: object) -> str:
        return "".join(_json_chunks(obj, 0))

else:  # an interpreter without the C accelerator: the pure-Python encoder, best effort
    _json_encode = json.JSONEncoder(separators=(",", ":")).encode

    def _json_dumps(obj: object) -> str:
        return _json_encode(obj)


_getframe = sys._getframe
_modules = sys.modules
_STDLIB = frozenset(sys.stdlib_module_names)
_OWN_GLOBALS = globals()
_extract_tb = traceback.extract_tb
_basename = os.path.basename


def _size(count: int) -> str:
    # budgets.describe_size, mirrored
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    if count >= 1 << 10:
        return f"{count // 1024} KiB"
    return f"{count} bytes"


def _safe_type_name(obj: object) -> str:
    try:
        name = _type_name(_type(obj))
    except _BaseException:
        return "?"
    return name[:_MAX_NAME] if _type(name) is _str else "?"


def _safe_str(obj: object, limit: int = _MAX_MESSAGE) -> str:
    # str() runs student code (an exception's __str__); a hang there is a timeout.
    try:
        text = _str(obj)
    except _BaseException:
        return "<str() failed>"
    if _type(text) is not _str:
        return "<str() returned a non-string>"
    return text if _len(text) <= limit else text[:limit] + "..."


class _Codec:
    def __init__(self, np: ModuleType) -> None:
        self.np = np
        self.ndarray: type = np.ndarray
        self.asarray: Callable[..., Any] = np.asarray
        self.ascontiguousarray: Callable[..., Any] = np.ascontiguousarray
        self.frombuffer: Callable[..., Any] = np.frombuffer
        self.dtype: Callable[..., Any] = np.dtype
        names = ["bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"]
        names += ["uint64", "float16", "float32", "float64", "complex64", "complex128"]
        self.scalar_types: frozenset[type] = frozenset(getattr(np, name) for name in names)

    def encode(self, value: object, blobs: list[bytes], depth: int = 0) -> object:
        kind = _type(value)
        if value is None or kind is _bool or kind is _float:
            return value
        # Exact type checks: a subclass may override the very methods used to encode it.
        if kind is _int:
            number = cast(int, value)
            return number if -(2**63) <= number < 2**64 else {"unsupported": "int (out of range)"}
        if kind is _str:
            text = cast(str, value)
            if _len(text) > _MAX_TEXT:
                return {"unsupported": f"str ({_len(text)} characters)"}
            return text
        if kind is _complex:
            pair = cast(complex, value)
            return {"complex": [pair.real, pair.imag]}
        if kind in self.scalar_types:
            return self.encode(cast(Any, value).item(), blobs, depth)
        if _issubclass(kind, self.ndarray):
            encoded = self._encode_array(value, blobs)
            if kind is not self.ndarray and "blob" in encoded:
                # np.matrix and the like: plain data on the wire, named for the form check
                encoded["subclass"] = _safe_type_name(value)
            return encoded
        if kind is _tuple or kind is _list or kind is _dict:
            items = cast("tuple[object, ...] | list[object] | dict[object, object]", value)
            if depth >= _MAX_DEPTH:
                return {"unsupported": f"{kind.__name__} (nested too deep)"}
            if _len(items) > _MAX_ITEMS:
                return {"unsupported": f"{kind.__name__} ({_len(items)} items)"}
            if kind is not _dict:
                return [self.encode(item, blobs, depth + 1) for item in items]
            return self._encode_dict(cast("dict[object, object]", items), blobs, depth)
        return {"unsupported": _safe_type_name(value)}

    def _encode_dict(self, mapping: dict[object, object], blobs: list[bytes], depth: int) -> object:
        pairs: list[object] = []
        # A plain dict's own C iteration: no method of the student's runs here. Pairs keep
        # the order, and str keys of an exact type cannot collide or compare oddly.
        for key, item in _list(_dict.items(mapping)):
            if _type(key) is not _str:
                return {"unsupported": f"dict (a key of type {_safe_type_name(key)})"}
            if _len(key) > _MAX_TEXT:
                return {"unsupported": f"dict (a key of {_len(key)} characters)"}
            pairs.append([key, self.encode(item, blobs, depth + 1)])
        return {"dict": pairs}

    def _encode_array(self, value: object, blobs: list[bytes]) -> dict[str, object]:
        array = self.asarray(value)
        dtype = array.dtype
        if dtype.kind not in "biufc":
            return {"unsupported": f"ndarray of dtype {_safe_str(dtype, 40)}"}
        if dtype.byteorder == ">":
            dtype = dtype.newbyteorder("<")
        if dtype.str not in _ALLOWED_DTYPES:
            return {"unsupported": f"ndarray of dtype {_safe_str(dtype, 40)}"}
        data = self.ascontiguousarray(array, dtype=dtype).tobytes()
        blobs.append(data)
        return {"blob": _len(blobs) - 1, "dtype": dtype.str, "shape": [int(n) for n in array.shape]}

    def decode(
        self, obj: object, blobs: list[bytes], same: dict[int, object] | None = None
    ) -> object:
        """Arguments from the trusted side; every array reference becomes a fresh copy,
        except that references marked with the same ``"same"`` number within one call
        become one object (``same`` holds those already made for the call)."""
        kind = _type(obj)
        if kind is _list:
            return _tuple(self.decode(item, blobs, same) for item in cast("list[object]", obj))
        if kind is _dict:
            tagged = cast("dict[str, Any]", obj)
            if "blob" in tagged:
                mark = tagged.get("same")
                if same is None:
                    same, mark = {}, None
                if mark is not None and mark in same:
                    return same[mark]
                flat = self.frombuffer(blobs[tagged["blob"]], dtype=self.dtype(tagged["dtype"]))
                array = flat.reshape(tagged["shape"]).copy()
                if mark is not None:
                    same[mark] = array
                return array
            if "complex" in tagged:
                return _complex(*tagged["complex"])
            if "dict" in tagged:
                return {key: self.decode(item, blobs, same) for key, item in tagged["dict"]}
            raise ValueError(f"unknown tagged value {sorted(tagged)}")
        return obj

    def decode_arguments(
        self,
        args: list[object],
        kwargs: list[list[Any]],
        blobs: list[bytes],
        same: dict[int, object],
    ) -> tuple[list[object], dict[str, object]]:
        positional = [self.decode(arg, blobs, same) for arg in args]
        named = {name: self.decode(arg, blobs, same) for name, arg in kwargs}
        return positional, named


class _Channel:
    def __init__(self, fd_in: int, fd_out: int) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out

    def _read_exact(self, count: int) -> bytes | None:
        chunks: list[bytes] = []
        while count:
            chunk = _os_read(self.fd_in, min(count, 1 << 20))
            if not chunk:
                return None
            chunks.append(chunk)
            count -= _len(chunk)
        return b"".join(chunks)

    def read(self) -> tuple[dict[str, Any], list[bytes]] | None:
        prefix = self._read_exact(_LENGTH.size)
        if prefix is None:
            return None
        raw = self._read_exact(_LENGTH.unpack(prefix)[0])
        if raw is None:
            return None
        header: dict[str, Any] = _json_loads(raw)
        blobs: list[bytes] = []
        for length in header["blobs"]:
            blob = self._read_exact(length) if length else b""
            if blob is None:
                return None
            blobs.append(blob)
        return header, blobs

    @staticmethod
    def frame(header: dict[str, object], blobs: list[bytes]) -> bytes:
        header["blobs"] = [_len(blob) for blob in blobs]
        text = _json_dumps(header).encode("utf-8")
        return b"".join([_LENGTH.pack(_len(text)), text, *blobs])

    def write(self, header: dict[str, object], blobs: list[bytes]) -> None:
        self.write_frame(self.frame(header, blobs))

    def write_frame(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = _os_write(self.fd_out, view)
            view = view[written:]


def _format_frames(tb: TracebackType | None, filename: str) -> str:
    frames = [frame for frame in _extract_tb(tb) if frame.filename == filename]
    if _len(frames) > 10:
        omitted = _len(frames) - 8
        lines = _format_entries(frames[:3])
        lines.append(f"  ... ({omitted} more frames) ...\n")
        lines += _format_entries(frames[-5:])
    else:
        lines = _format_entries(frames)
    return "".join(lines)


def _format_entries(frames: list[traceback.FrameSummary]) -> list[str]:
    shown = []
    for frame in frames:
        entry = f'  File "{_basename(frame.filename)}", line {frame.lineno}, in {frame.name}\n'
        if frame.line:
            entry += f"    {frame.line.strip()[:200]}\n"
        shown.append(entry)
    return shown


def _failure(kind: str, exc: BaseException, filename: str) -> dict[str, object]:
    type_name = _safe_type_name(exc)
    try:
        message, text = _describe(exc, type_name, filename)
    except _BaseException:
        # A student exception can break even its own description (properties that raise).
        message, text = "<exception could not be described>", type_name
    return {"ok": False, "kind": kind, "type": type_name, "message": message, "traceback": text}


def _describe(exc: BaseException, type_name: str, filename: str) -> tuple[str, str]:
    message = _safe_str(exc)
    frames = _format_frames(exc.__traceback__, filename)
    text = "Traceback (most recent call last):\n" + frames if frames else ""
    if _issubclass(_type(exc), SyntaxError):
        syntax = cast(SyntaxError, exc)
        if _type(syntax.lineno) is _int:
            message = f"{_safe_str(syntax.msg)} ({_basename(filename)}, line {syntax.lineno})"
            text += f'  File "{_basename(filename)}", line {syntax.lineno}\n'
            if _type(syntax.text) is _str and syntax.text:
                text += f"    {_safe_str(syntax.text, 200).strip()}\n"
    text += f"{type_name}: {message}"
    if _len(text) > _MAX_TRACEBACK:
        half = _MAX_TRACEBACK // 2
        text = text[:half] + "\n  ...\n" + text[-half:]
    return message, text


class _Tracer:
    """Counts the Python work of one call: every frame's 'call' and 'line' events (a trace
    function) and every call and C call (a profile function).

    Line events can be switched off per frame (``frame.f_trace_lines = False``, or
    ``frame.f_trace = None``), and a loop of C calls then shows no lines; the profile
    function's 'call' and 'c_call' events have no such per-frame switch, so a per-sample
    loop that calls anything still counts. A frame that returns with its line events
    switched off, or a trace or profile function that is no longer ours when the call
    returns, makes the whole count untrusted (-1, "could not be measured").

    The count is only as honest as this process: student code runs here and can reach
    this object through frames or the garbage collector, or write a reply frame of its
    own to the reply pipe, and so report any count. The trusted side checks what it can:
    the traced call's result against the reference's, or else against an untraced run
    in a fresh process, and it flags code that touches frames or tracing for review.
    """

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.count = 0
        self.tampered = False
        self.global_trace = self._make()
        self.profile = self._make_profile()

    def _make(self) -> _TraceFunction:
        def local_trace(frame: FrameType, event: str, arg: Any) -> Any:
            if event == "line":
                self.count += 1
            elif event == "return" and not frame.f_trace_lines:
                self.tampered = True
            return local_trace

        def global_trace(frame: FrameType, event: str, arg: Any) -> Any:
            # Every frame counts, not only the student file's: code compiled under another
            # file name (exec, compile) must not hide a per-sample loop. numpy's own
            # Python-level work does not grow with the number of samples. The import
            # guard's frames alone do not count: the import statement they stand in for
            # ran in C, and a lazy import's first run must not look like more work.
            if _id(frame.f_code) in _GUARD_CODE_IDS:
                return None
            self.count += 1
            return local_trace

        return global_trace

    def _make_profile(self) -> _TraceFunction:
        def profile(frame: FrameType, event: str, arg: Any) -> None:
            # As for lines: the import guard's own calls are not the student's work.
            if (event == "c_call" or event == "call") and _id(frame.f_code) not in _GUARD_CODE_IDS:
                self.count += 1

        return profile

    def start(self) -> None:
        _setprofile(self.profile)
        _settrace(self.global_trace)

    def stop(self) -> bool:
        """Remove both hooks; True if they were still ours and no frame switched off lines."""
        intact = _gettrace() is self.global_trace and _getprofile() is self.profile
        _settrace(None)
        _setprofile(None)
        return intact and not self.tampered


class _TracerHider:
    """What student code gets from ``sys.gettrace()`` and ``sys.getprofile()``: never the
    worker's own counters.

    A courtesy that makes the obvious check come out empty, not a defence: the counter
    still shows in ``frame.f_trace``, in timing, and through this object itself. What
    makes noticing it useless is on the trusted side, which compares every traced call's
    result with the reference's or with an untraced run in a fresh process.
    """

    def __init__(self) -> None:
        self.hidden: object = None
        self.hidden_profile: object = None

    def gettrace(self) -> Any:
        current = _gettrace()
        return None if current is self.hidden else current

    def getprofile(self) -> Any:
        current = _getprofile()
        return None if current is self.hidden_profile else current


def _refuse_threads() -> None:
    """Student code may not start Python threads, under every layer.

    The work of a call is counted in the thread that runs it, so a loop run in another
    thread would not count; the full layer's process limit refuses threads anyway, and
    this makes the reduced layer and ``propgrade check`` say so the same way. Native
    threads that libraries start in C (OpenBLAS's) are not Python threads and not
    affected. Like the import guard, a rule in the student's process, not a wall: code set
    on finding the original function can, and is flagged for review by the grader.
    """
    import _thread
    import threading

    def refused(*args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError(
            "can't start new thread: student code may not start threads (the grader counts "
            "the work of the calling thread only)"
        )

    for module in (_thread, threading):
        for name in ("start_new_thread", "start_new", "_start_new_thread"):
            if _getattr(module, name, None) is not None:
                setattr(module, name, refused)
        for name in ("start_joinable_thread", "_start_joinable_thread"):
            if _getattr(module, name, None) is not None:
                setattr(module, name, refused)


def _public_callables(module: ModuleType) -> list[str]:
    names = []
    for name, value in _list(module.__dict__.items()):
        if _type(name) is _str and not name.startswith("_") and _callable(value):
            names.append(name[:_MAX_NAME])
    return names[:_MAX_FUNCTIONS]


def _flush_student_output() -> None:
    for stream in (sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except _BaseException:
            pass


class _Runner:
    def __init__(
        self,
        channel: _Channel,
        codec: _Codec,
        module: ModuleType,
        filename: str,
        hider: _TracerHider,
    ):
        self.channel = channel
        self.codec = codec
        self.module = module
        self.filename = filename
        self.hider = hider

    def serve(self) -> None:
        while True:
            request = self.channel.read()
            if request is None:
                return
            header, blobs = request
            for call in header["calls"]:
                reply, reply_blobs = self._run_one(call, blobs)
                reply["op"], reply["id"] = "result", call["id"]
                data = self.channel.frame(reply, reply_blobs)
                header_bytes = _len(data) - _LENGTH.size - sum(_len(b) for b in reply_blobs)
                budget = call["max_reply_bytes"]
                if _len(data) > budget or header_bytes > _REPLY_HEADER_LIMIT:
                    # The grader would refuse the frame and stop this process: say why.
                    too_large: dict[str, object] = {"ok": False, "kind": "too_large"}
                    too_large["type"], too_large["traceback"] = "", ""
                    too_large["message"] = (
                        f"{_size(_len(data))} of data, where this call may return at most "
                        f"{_size(budget)}: return only what the docstring asks for, of the "
                        "size it says (a loss is one number; arrays have the shapes of the "
                        "arguments)"
                    )
                    too_large["op"], too_large["id"] = "result", call["id"]
                    data = self.channel.frame(too_large, [])
                _flush_student_output()
                self.channel.write_frame(data)

    def _missing(self, message: str) -> tuple[dict[str, object], list[bytes]]:
        missing: dict[str, object] = {"ok": False, "kind": "missing", "type": ""}
        missing["message"], missing["traceback"] = message, ""
        return missing, []

    def _run_one(
        self, call: dict[str, Any], blobs: list[bytes]
    ) -> tuple[dict[str, object], list[bytes]]:
        name = call["function"]
        same: dict[int, object] = {}
        recipe = call.get("instance")
        if recipe is None:
            function = self.module.__dict__.get(name)
            if function is None or not _callable(function):
                return self._missing(
                    f"{_basename(self.filename)} defines no function named {name!r}"
                )
        else:
            built = self._build(recipe, blobs, same)
            if _type(built) is _tuple:
                return cast("tuple[dict[str, object], list[bytes]]", built)
            try:
                function = _getattr(built, name, None) if not name.startswith("__") else None
            except _BaseException as exc:  # a __getattr__ of the student's that raises
                return _failure("exception", exc, self.filename), []
            if function is None or not _callable(function):
                return self._missing(f"class {recipe['cls']} has no method named {name!r}")
        args, kwargs = self.codec.decode_arguments(call["args"], call["kwargs"], blobs, same)
        tracer = _Tracer(self.filename) if call["trace"] else None
        try:
            started = _perf_counter()
            if tracer is not None:
                self.hider.hidden = tracer.global_trace
                self.hider.hidden_profile = tracer.profile
                tracer.start()
            try:
                result = function(*args, **kwargs)
            finally:
                tampered = tracer is not None and not tracer.stop()
                self.hider.hidden = self.hider.hidden_profile = None
                seconds = _perf_counter() - started
        except _BaseException as exc:
            return _failure("exception", exc, self.filename), []
        reply_blobs: list[bytes] = []
        try:
            reply: dict[str, object] = {
                "ok": True,
                "value": self.codec.encode(result, reply_blobs),
                "seconds": seconds,
                "trace": None if tracer is None else (-1 if tampered else tracer.count),
                "args_after": None,
            }
            if call["echo_args"]:
                reply["args_after"] = [self.codec.encode(arg, reply_blobs) for arg in args]
        except _BaseException as exc:
            return _failure("exception", exc, self.filename), []
        return reply, reply_blobs

    def _build(self, recipe: dict[str, Any], blobs: list[bytes], same: dict[int, object]) -> object:
        """The object ``recipe`` describes: its class called, then each setup step run.

        Made anew for every call, so no call sees what another left in it. Returns a
        failure reply (a tuple) when the class is missing or a step raises.
        """
        cls_name = recipe["cls"]
        cls = self.module.__dict__.get(cls_name)
        if cls is None or not _callable(cls):
            return self._missing(f"{_basename(self.filename)} defines no class named {cls_name!r}")
        where = f"{cls_name}()"
        try:
            args, kwargs = self.codec.decode_arguments(
                recipe["args"], recipe["kwargs"], blobs, same
            )
            obj = cls(*args, **kwargs)
            for method, step_args, step_kwargs in recipe["steps"]:
                where = f"{cls_name}.{method}()"
                bound = _getattr(obj, method, None) if not method.startswith("__") else None
                if bound is None or not _callable(bound):
                    return self._missing(f"class {cls_name} has no method named {method!r}")
                args, kwargs = self.codec.decode_arguments(step_args, step_kwargs, blobs, same)
                bound(*args, **kwargs)
        except _BaseException as exc:
            failure = _failure("exception", exc, self.filename)
            failure["message"] = f"{where}, called to set the object up: {failure['message']}"
            return failure, []
        return obj


class _ImportGuard:
    """Refuses imports that student code makes of packages the assignment does not allow.

    Student code may import the Python standard library (``sys.stdlib_module_names``), the
    packages the assignment lists and its own module; imports that those packages make
    internally go through (matplotlib needs PIL, numpy loads its own parts lazily). The
    same guard runs under every sandbox layer and in ``propgrade check``, so a submission
    gets the same grade everywhere and the student meets the refusal before submitting.

    It sits first on ``sys.meta_path``, so ``import``, ``__import__``, ``importlib`` and
    ``pickle`` all meet it on a module's first import, and wraps ``builtins.__import__``,
    so an import statement is refused even when an allowed package loaded the module
    already. It is a policy, not a wall: it lives in the student's process, and code set
    on evading it (removing it from ``sys.meta_path``, running code in an allowed
    package's namespace, loading a file by path) can. Containment is the sandbox's job.
    """

    def __init__(self, allowed: frozenset[str], own: frozenset[str], student: dict[str, Any]):
        # The student's own module is allowed too (``import losses`` in losses.py): it is
        # not refused, merely not found under its file name.
        self.allowed = allowed | own | _PROVIDED_TOPS
        self.student = student
        self.original_import = builtins.__import__
        shown = ", ".join(sorted(allowed))
        self.rule = f"student code may import only {shown} and the Python standard library"
        # True while the graded file's own top level runs: see guarded_import.
        self.loading = False
        # Lines of the graded file inside a `try` whose handler catches ImportError.
        self.fallback_lines: frozenset[int] = frozenset()

    def install(self) -> None:
        _provide_compatibility_modules()
        sys.meta_path.insert(0, self)
        builtins.__import__ = self.guarded_import

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        self.enforce(fullname)
        return None  # an allowed import: the usual finders look for it

    def guarded_import(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleType:
        if level == 0 and _type(name) is _str:
            try:
                self.enforce(name)
            except ModuleNotFoundError as refusal:
                # A refused import at the top of the graded file (a leftover `import
                # matplotlib.pyplot as plt`) must not zero the functions that never use
                # it: it binds a stand-in, and only code that uses it meets the refusal.
                # Inside `try: ... except ImportError:` the refusal is raised: the file's
                # own fallback takes over, as where the package is not installed.
                if not (self.loading and globals is self.student):
                    raise
                if _getframe(1).f_lineno in self.fallback_lines:
                    raise
                return cast(ModuleType, _Refused(name.partition(".")[0], str(refusal)))
        return self.original_import(name, globals, locals, fromlist, level)

    def enforce(self, name: str) -> None:
        top = name.partition(".")[0]
        if top in self.allowed or top in _STDLIB or not self._made_by_student():
            return
        # ModuleNotFoundError, as where the package is not installed: code that falls back
        # on an optional package (`except ImportError`) behaves as it would there.
        raise ModuleNotFoundError(f"import of {top!r} refused: {self.rule}", name=top)

    def _made_by_student(self) -> bool:
        """Whether the innermost importer outside the standard library is student code.

        A frame belongs to a package only if its globals are that module's own namespace
        in ``sys.modules``: code that merely names itself after a package does not.
        """
        frame: FrameType | None = _getframe(1)
        while frame is not None:
            scope = frame.f_globals
            if scope is _OWN_GLOBALS or frame.f_code.co_filename.startswith("<frozen "):
                frame = frame.f_back
                continue
            if scope is self.student:
                return True
            name = scope.get("__name__")
            module = _modules.get(name) if _type(name) is _str else None
            if module is None or _getattr(module, "__dict__", None) is not scope:
                return True  # exec'd code, or a namespace made up to look like a package
            if cast(str, name).partition(".")[0] not in _STDLIB:
                return False  # an installed package importing what it needs
            frame = frame.f_back  # the standard library acting for its caller
        return True


class _Refused:
    """Stands for a module the graded file's top level may not import.

    Any use of it (an attribute's value called, indexed, iterated, converted) raises the
    refusal, so a graded function that uses the module fails with the import policy's
    message and only its own checks are lost. Attributes are stand-ins too, because
    ``import a.b as c`` and ``from a import b`` read them while the import runs.
    """

    __slots__ = ("_name", "_refusal")

    def __init__(self, name: str, refusal: str) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_refusal", refusal)

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        name = object.__getattribute__(self, "_name")
        refusal = object.__getattribute__(self, "_refusal")
        raise ModuleNotFoundError(refusal, name=name.partition(".")[0])

    def __getattr__(self, attr: str) -> _Refused:
        if attr.startswith("__"):
            raise AttributeError(attr)  # protocol probes (numpy's __array__...) find nothing
        name = object.__getattribute__(self, "_name")
        return _Refused(f"{name}.{attr}", object.__getattribute__(self, "_refusal"))

    def __repr__(self) -> str:
        return f"<refused module {object.__getattribute__(self, '_name')}>"

    __call__ = __getitem__ = __setitem__ = __delitem__ = __iter__ = __len__ = _refuse
    __setattr__ = __delattr__ = __bool__ = __float__ = __int__ = __index__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _refuse
    __truediv__ = __rtruediv__ = __matmul__ = __rmatmul__ = __neg__ = __pow__ = _refuse
    __enter__ = __exit__ = __contains__ = _refuse


# CS231n's 2017-2019 starter files begin with `from builtins import range` (standard
# library) and `from past.builtins import xrange` (the third-party `future` package). On
# Python 3 the names `past.builtins` gives are plain aliases of builtins, so the policy
# provides them itself: the same in every sandbox layer and in `propgrade check`, whether
# or not `future` is installed, and no third-party code runs in the student's process.
_PROVIDED: dict[str, dict[str, object]] = {
    "past": {},
    "past.builtins": {
        "xrange": range,
        "range": range,
        "basestring": str,
        "unicode": str,
        "str": str,
        "long": int,
        "unichr": chr,
        "raw_input": input,
        "reduce": __import__("functools").reduce,
    },
}
_PROVIDED_TOPS = frozenset(name.partition(".")[0] for name in _PROVIDED)


def _provide_compatibility_modules() -> None:
    for name, names in _PROVIDED.items():
        module = ModuleType(name, "provided by the grader's import policy (Python 3 aliases)")
        module.__dict__.update(names)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(_modules[parent], child, module)
        else:
            module.__path__ = []  # a package: `past.builtins` is found under it
        _modules[name] = module


# Frames of these are the guard's, never the student's (code objects are not made anew).
_GUARD_CODE_IDS = frozenset(
    _id(method.__code__)
    for method in (
        _ImportGuard.find_spec,
        _ImportGuard.guarded_import,
        _ImportGuard.enforce,
        _ImportGuard._made_by_student,
    )
)


# Handlers that catch a refused import (ModuleNotFoundError); intake/refused_imports.py
# notes such imports from the trusted side with this same predicate.
_IMPORT_ERROR_NAMES = frozenset(
    {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}
)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True  # a bare except
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(
        (isinstance(e, ast.Name) and e.id in _IMPORT_ERROR_NAMES)
        or (isinstance(e, ast.Attribute) and e.attr in _IMPORT_ERROR_NAMES)
        for e in caught
    )


def _fallback_lines(path: str) -> frozenset[int]:
    """The lines of ``path`` inside the body of a ``try`` that catches ImportError."""
    try:
        with open(path, "rb") as file:
            tree = ast.parse(file.read())
    except Exception:
        return frozenset()  # the import itself reports what is wrong with the file
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(map(_catches_import_error, node.handlers)):
            last = node.body[-1].end_lineno or node.body[-1].lineno
            lines.update(range(node.body[0].lineno, last + 1))
    return frozenset(lines)


def _import_student(path: str, module_name: str, allowed: frozenset[str]) -> ModuleType:
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {_basename(path)} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    own = frozenset({module_name.partition(".")[0], _basename(path).partition(".")[0]})
    guard = _ImportGuard(allowed, own, module.__dict__)
    guard.fallback_lines = _fallback_lines(path)
    guard.install()
    guard.loading = True
    try:
        spec.loader.exec_module(module)
    finally:
        guard.loading = False
    return module


def _name_in_warnings(graded: str) -> None:
    """Warnings about the graded file name it "losses.py", not by its scratch path.

    The scratch directory is new for every worker, so the full path would make the same
    file's output differ between runs and between sandbox layers.
    """
    import linecache
    import warnings

    original = warnings.formatwarning
    short = _basename(graded)

    def formatwarning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        line: str | None = None,
    ) -> str:
        if filename == graded:
            if line is None:
                line = linecache.getline(filename, lineno)
            filename = short
        return original(message, category, filename, lineno, line)

    warnings.formatwarning = formatwarning


def serve(graded_file: str, module_name: str, imports: str = "numpy") -> int:
    """The worker's whole life: report ready, import the graded file, answer calls.

    Expects the request pipe on fd 0, the reply pipe on fd 1 and the output pipe on fd 2,
    whether this process was started for the purpose or forked by the zygote. ``imports``
    names the packages student code may import, comma-separated (numpy always).
    """
    # The protocol gets private fds; the student's fd 0 is empty and fd 1 joins stderr,
    # which the grader drains with a byte cap, so prints cannot corrupt replies.
    channel = _Channel(os.dup(0), os.dup(1))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    import numpy

    codec = _Codec(numpy)
    hider = _TracerHider()
    sys.gettrace = hider.gettrace
    sys.getprofile = hider.getprofile
    _refuse_threads()
    channel.write({"op": "ready"}, [])
    filename = os.path.abspath(graded_file)
    _name_in_warnings(filename)
    try:
        allowed = frozenset({"numpy", *filter(None, imports.split(","))})
        module = _import_student(filename, module_name, allowed)
        functions = _public_callables(module)
    except _BaseException as exc:
        report = _failure("import", exc, filename)
        report["op"] = "import"
        _flush_student_output()
        channel.write(report, [])
        return 0
    _flush_student_output()
    channel.write({"op": "import", "ok": True, "functions": functions}, [])
    _Runner(channel, codec, module, filename, hider).serve()
    return 0


# -- confinement, before any student code -------------------------------------------------

_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_SYS_LANDLOCK_CREATE_RULESET = 444  # the same number on every architecture
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446
_LANDLOCK_CREATE_RULESET_VERSION = 1
_LANDLOCK_RULE_PATH_BENEATH = 1
_FS_WRITE_FILE = 1 << 1
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE = sum(1 << bit for bit in range(6, 13))  # char, dir, reg, sock, fifo, block, sym
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1  # ABI 6
# Devices a program may open for writing without harm.
_WRITABLE_DEVICES = ("/dev/null", "/dev/zero", "/dev/full")


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, or 0 where Landlock is unavailable."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(
        ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
        None,
        ctypes.c_size_t(0),
        ctypes.c_uint32(_LANDLOCK_CREATE_RULESET_VERSION),
    )
    return max(int(version), 0)


def confine(spec: dict[str, Any] | None, scratch: str) -> dict[str, object]:
    """Close this process to writes outside ``scratch`` and to new processes, for good.

    ``spec`` comes from the trusted side: ``seccomp``, a BPF program as hex (the reduced
    layer's, which denies new processes), and ``write``, folders besides ``scratch`` that
    stay writable (the full layer's private /tmp). Writes are confined with Landlock,
    which needs neither root nor namespaces; where the kernel has none, nothing is
    confined and the answer says so (the trusted side reports it). Every other failure
    raises: no student code runs in a worker that is not what the trusted side expects.
    Also limits signals and abstract Unix sockets to this process (Landlock ABI 6), so
    student code cannot signal the grader or the zygote even under the same uid.
    """
    import ctypes

    spec = spec or {}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def check(result: int, what: str) -> int:
        if result < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"{what}: {os.strerror(code)}")
        return result

    check(libc.prctl(_PR_SET_NO_NEW_PRIVS, ctypes.c_ulong(1), 0, 0, 0), "no_new_privs")
    abi = landlock_abi()
    if abi >= 1:
        _landlock(libc, check, abi, [scratch, *(str(p) for p in spec.get("write", []))])
    program = bytes.fromhex(spec["seccomp"]) if spec.get("seccomp") else b""
    if program:

        class _SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        buffer = ctypes.create_string_buffer(program, _len(program))
        fprog = _SockFprog(_len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
        check(
            libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
            "seccomp",
        )
    return {"landlock": abi, "seccomp": _bool(program)}


def _landlock(libc: Any, check: Callable[[int, str], int], abi: int, folders: list[str]) -> None:
    import ctypes

    class _RulesetAttr(ctypes.Structure):
        _fields_ = [
            ("handled_access_fs", ctypes.c_uint64),
            ("handled_access_net", ctypes.c_uint64),
            ("scoped", ctypes.c_uint64),
        ]

    class _PathBeneathAttr(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    handled = _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE
    if abi >= 2:
        handled |= _FS_REFER
    if abi >= 3:
        handled |= _FS_TRUNCATE
    attr = _RulesetAttr(handled, 0, 0)
    size = 8  # the structure grew with the ABI: pass only what this kernel knows
    if abi >= 4:
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL
        size = 24
    ruleset = check(
        libc.syscall(
            ctypes.c_long(_SYS_LANDLOCK_CREATE_RULESET),
            ctypes.byref(attr),
            ctypes.c_size_t(size),
            ctypes.c_uint32(0),
        ),
        "landlock_create_ruleset",
    )
    try:
        rules = [(folder, handled) for folder in folders]
        rules += [
            (device, handled & (_FS_WRITE_FILE | _FS_TRUNCATE)) for device in _WRITABLE_DEVICES
        ]
        for path, allowed in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # a device this view does not have
            try:
                rule = _PathBeneathAttr(allowed, fd)
                check(
                    libc.syscall(
                        ctypes.c_long(_SYS_LANDLOCK_ADD_RULE),
                        ctypes.c_int(ruleset),
                        ctypes.c_int(_LANDLOCK_RULE_PATH_BENEATH),
                        ctypes.byref(rule),
                        ctypes.c_uint32(0),
                    ),
                    f"landlock_add_rule({path})",
                )
            finally:
                os.close(fd)
        check(
            libc.syscall(
                ctypes.c_long(_SYS_LANDLOCK_RESTRICT_SELF),
                ctypes.c_int(ruleset),
                ctypes.c_uint32(0),
            ),
            "landlock_restrict_self",
        )
    finally:
        os.close(ruleset)


def main(argv: list[str]) -> int:
    # The confinement comes as JSON in argv[4] when the worker is started by exec; a
    # worker forked by the zygote was confined by it (``zygote_main.py``).
    if _len(argv) > 4:
        confine(_json_loads(argv[4]), os.path.dirname(os.path.abspath(argv[1])))
    return serve(argv[1], argv[2], argv[3] if _len(argv) > 3 else "numpy")


def run_and_exit(entry: Callable[[], int]) -> NoReturn:
    """Run ``entry`` and end the process with its status, whatever the student did."""
    try:
        status = entry()
    except _BaseException:
        traceback.print_exc()
        status = 70
    _flush_student_output()
    # os._exit skips atexit handlers and finalizers the student may have registered.
    os._exit(status)


if __name__ == "__main__":
    run_and_exit(lambda: main(sys.argv))
