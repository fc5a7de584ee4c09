"""Dicts, strings and keyword arguments across the boundary, and the two encoders pinned.

The trusted encoder (``wire.encode_value``) and the worker's own copy
(``worker_main._Codec.encode``) must write the same bytes for every value both accept,
and the decoder must read them back as they were: a value that drifts between the two
would be an honest student's answer reported as a protocol failure.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from propgrade.sandbox import wire
from propgrade.sandbox.calls import SENDABLE, Call, Unsupported, Value
from propgrade.sandbox.inside import worker_main

CODEC = worker_main._Codec(np)


def grader_frame(value: Value) -> bytes:
    table = wire.BlobTable(dedupe=False)
    return wire.encode_frame({"value": wire.encode_value(value, table)}, table.blobs)


def worker_frame(value: object) -> bytes:
    blobs: list[bytes] = []
    header: dict[str, object] = {"value": CODEC.encode(value, blobs)}
    read_fd, write_fd = os.pipe()
    try:
        worker_main._Channel(-1, write_fd).write(header, blobs)
        os.close(write_fd)
        chunks = []
        while chunk := os.read(read_fd, 1 << 16):
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    return b"".join(chunks)


def received(data: bytes) -> Value:
    frame = wire.decode_frame(data)
    return wire.decode_value(frame.header["value"], frame.blobs)


def same(a: object, b: object) -> bool:
    """Equal, with arrays equal in dtype, shape and bytes and every type kept exactly."""
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray)
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return a == b


def as_received(value: object) -> object:
    """What a sent value decodes to: lists become tuples, numpy scalars Python ones."""
    if isinstance(value, list | tuple):
        return tuple(as_received(item) for item in value)
    if isinstance(value, dict):
        return {key: as_received(item) for key, item in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    return value


# -- nested values, drawn ---------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from([np.float32(0.25), np.int64(-3), np.bool_(True), np.uint8(7)]),
)
arrays = hnp.arrays(
    dtype=st.sampled_from(["<f8", "<f4", "<i8", "<i4", "|u1", "|b1", "<c16"]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
)
keys = st.text(max_size=12)


def nested(depth: int) -> st.SearchStrategy[Any]:
    leaves = scalars | arrays
    if depth == 0:
        return leaves
    inner = nested(depth - 1)
    return (
        leaves
        | st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
    )


values = nested(wire.MAX_DEPTH)


@settings(max_examples=300, deadline=None)
@given(values)
def test_both_encoders_write_the_same_bytes_and_the_decoder_reads_them_back(value: Any) -> None:
    sent = grader_frame(value)
    returned = worker_frame(value)
    assert sent == returned
    assert same(received(returned), as_received(value))


@settings(max_examples=200, deadline=None)
@given(values)
def test_the_worker_decodes_what_the_grader_sends(value: Any) -> None:
    frame = wire.decode_frame(grader_frame(value))
    blobs = [bytes(blob) for blob in frame.blobs]
    assert same(CODEC.decode(frame.header["value"], blobs), as_received(value))


# -- dicts --------------------------------------------------------------------------------


def round_trip(value: Value) -> Value:
    return received(grader_frame(value))


def test_a_pair_of_an_array_and_a_config_dict_comes_back_exactly() -> None:
    w = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    config = {
        "learning_rate": 1e-2,
        "momentum": 0.9,
        "t": 3,
        "nesterov": False,
        "name": "sgd_momentum",
        "decay": None,
        "velocity": np.zeros((2, 3)),
        "moments": {"m": np.ones(3, dtype=np.float16), "v": np.arange(3, dtype=np.int32)},
    }
    back = round_trip((w, config))
    assert same(back, (w, config))
    assert isinstance(back, tuple) and isinstance(back[1], dict)
    assert list(back[1]) == list(config)  # key order kept


def test_dict_keys_keep_their_order_and_values_their_exact_type() -> None:
    back = round_trip({"z": 1, "a": 1.0, "m": True, "b": 2**63})
    assert same(back, {"z": 1, "a": 1.0, "m": True, "b": 2**63})


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ({1, 2}, "set"),
        ({1: 2.0}, "key of type int"),
        ({"f": object()}, "object"),
        ("x" * (wire.MAX_TEXT + 1), "characters"),
        ({"k" * (wire.MAX_TEXT + 1): 1}, "characters"),
        (2**64, "out of range"),
        ({str(i): i for i in range(wire.MAX_ITEMS + 1)}, "items"),
        ({"a": {"b": {"c": {"d": {"e": 1}}}}}, "nested"),
        (np.array(["a"]), "dtype"),
    ],
)
def test_unsendable_arguments_say_what_they_are_and_what_can_be_sent(value: Any, what: str) -> None:
    with pytest.raises(wire.UnsendableValue, match=what) as caught:
        wire.encode_value(value, wire.BlobTable())
    assert SENDABLE in str(caught.value)


@pytest.mark.parametrize(
    ("value", "marked"),
    [
        ({1, 2}, "set"),
        ({1: 2.0}, "dict (a key of type int)"),
        ({"k" * (wire.MAX_TEXT + 1): 1}, "dict (a key of 8193 characters)"),
        ("x" * (wire.MAX_TEXT + 1), "str (8193 characters)"),
        (2**64, "int (out of range)"),
        ({str(i): i for i in range(wire.MAX_ITEMS + 1)}, "dict (65 items)"),
    ],
)
def test_the_worker_marks_what_the_grader_would_refuse(value: object, marked: str) -> None:
    assert received(worker_frame(value)) == Unsupported(marked)


def test_a_dict_subclass_is_not_read_through_its_own_methods() -> None:
    class Lying(dict[str, float]):
        def items(self) -> Any:
            return iter([("loss", 0.0)])

    assert received(worker_frame(Lying(loss=5.0))) == Unsupported("Lying")
    nested_value = received(worker_frame({"state": Lying(loss=5.0), "t": 1}))
    assert nested_value == {"state": Unsupported("Lying"), "t": 1}


def test_nesting_beyond_the_limit_is_marked_at_the_level_it_exceeds() -> None:
    back = received(worker_frame({"a": {"b": {"c": {"d": {"e": 1}}}}}))
    assert back == {"a": {"b": {"c": {"d": Unsupported("dict (nested too deep)")}}}}


# -- hostile replies ----------------------------------------------------------------------


def raw(header_text: bytes, *blobs: bytes) -> bytes:
    return struct.pack(">I", len(header_text)) + header_text + b"".join(blobs)


@pytest.mark.parametrize(
    "value",
    [
        {"dict": [["a", 1], ["a", 2]]},  # duplicate key
        {"dict": [[1, 2]]},  # non-str key
        {"dict": [[None, 2]]},
        {"dict": [["a", 1, 2]]},  # not a pair
        {"dict": [["a"]]},
        {"dict": {"a": 1}},  # an object instead of pairs
        {"dict": [["k" * (wire.MAX_TEXT + 1), 1]]},
        {"dict": [[str(i), i] for i in range(wire.MAX_ITEMS + 1)]},
        {"dict": [["a", {"dict": [["b", {"dict": [["c", {"dict": [["d", [1]]]}]]}]]}]]},
        {"dict": [["a", "x" * (wire.MAX_TEXT + 1)]]},
        {"dict": [["a", {"eval": "1"}]]},
        {"dict": [], "extra": 1},
    ],
)
def test_malformed_dicts_from_the_worker_raise_wire_error(value: object) -> None:
    data = raw(json.dumps({"value": value, "blobs": []}).encode())
    with pytest.raises(wire.WireError):
        received(data)


def test_duplicate_keys_anywhere_in_a_header_are_refused() -> None:
    header = b'{"value": {"blob": 0, "blob": 0, "dtype": "<f8", "shape": [1]}, "blobs": [8]}'
    with pytest.raises(wire.WireError, match="duplicate"):
        wire.decode_frame(raw(header, b"\0" * 8))
    with pytest.raises(wire.WireError, match="duplicate"):
        wire.decode_frame(raw(b'{"ok": true, "ok": false, "blobs": []}'))


def test_a_header_of_deeply_nested_dicts_is_refused_without_recursing_far() -> None:
    deep = b'{"dict": [["a", ' * 50_000 + b"1" + b"]]}" * 50_000
    with pytest.raises(wire.WireError):
        received(raw(b'{"value": ' + deep + b', "blobs": []}'))


# -- keyword arguments --------------------------------------------------------------------


def test_keyword_arguments_are_sent_in_order_with_their_values() -> None:
    call = Call.of("adam", (np.ones(2),), {"config": {"lr": 0.1}, "eps": 1e-8})
    args, kwargs = wire.encode_call(call, wire.BlobTable())
    assert args == [{"blob": 0, "dtype": "<f8", "shape": [2]}]
    assert [name for name, _ in kwargs] == ["config", "eps"]
    assert kwargs[0][1] == {"dict": [["lr", 0.1]]}


@pytest.mark.parametrize("name", ["not valid", "", "a-b"])
def test_keyword_names_must_be_identifiers(name: str) -> None:
    with pytest.raises(wire.UnsendableValue, match="keyword"):
        wire.encode_call(Call("f", (), kwargs=((name, 1),)), wire.BlobTable())


# -- through a worker ---------------------------------------------------------------------

OPTIMIZERS = """
import numpy as np

def sgd_momentum(w, dw, config=None):
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config

def keywords(*args, **kwargs):
    return {"args": len(args), **{k: type(v).__name__ for k, v in kwargs.items()}}

def a_set():
    return (np.zeros(2), {"velocity": {1, 2}})

def int_keys():
    return {1: 2.0}

def chatty():
    return "x" * 10_000

def mutate(config):
    config["t"] = config["t"] + 1
    return None
"""


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from propgrade.sandbox.calls import Limits
    from propgrade.sandbox.process_layer import ProcessLayer
    from propgrade.sandbox.worker import Worker

    path = tmp_path_factory.mktemp("values") / "optim.py"
    path.write_text(OPTIMIZERS)
    limits = Limits(call_seconds=2.0, submission_seconds=60.0)
    with Worker(path, limits, layer=ProcessLayer(zygote=False)) as running:
        yield running


def test_keyword_arguments_and_a_returned_pair_with_a_dict_cross_the_boundary(
    worker: Any,
) -> None:
    w, dw = np.arange(4.0), np.ones(4)
    config = {"learning_rate": 0.5, "momentum": 0.0}
    positional, keyword, default = worker.run(
        [
            Call("sgd_momentum", (w, dw, config)),
            Call.of("sgd_momentum", (w, dw), {"config": config}),
            Call("sgd_momentum", (w, dw)),
        ]
    )
    assert positional.ok and keyword.ok and default.ok
    next_w, next_config = keyword.value
    np.testing.assert_array_equal(next_w, w - 0.5)
    assert list(next_config) == ["learning_rate", "momentum", "velocity"]
    assert same(next_config["velocity"], -0.5 * dw)
    assert same(positional.value, keyword.value)
    assert default.value[1]["learning_rate"] == 0.01


def test_keyword_values_keep_their_types(worker: Any) -> None:
    kwargs = {"b": True, "i": 1, "f": 1.0, "s": "x", "n": None, "d": {}, "a": np.zeros(1)}
    (outcome,) = worker.run([Call.of("keywords", (1, 2), kwargs)])
    assert outcome.value == {
        "args": 2,
        **{"b": "bool", "i": "int", "f": "float", "s": "str", "n": "NoneType"},
        **{"d": "dict", "a": "ndarray"},
    }


def test_what_cannot_be_returned_arrives_marked_where_it_was(worker: Any) -> None:
    pair, keyed, chatty = worker.run([Call("a_set", ()), Call("int_keys", ()), Call("chatty", ())])
    assert pair.ok and pair.value[1] == {"velocity": Unsupported("set")}
    assert keyed.value == Unsupported("dict (a key of type int)")
    assert chatty.value == Unsupported("str (10000 characters)")


def test_echoed_arguments_show_a_dict_changed_in_place(worker: Any) -> None:
    (outcome,) = worker.run([Call("mutate", ({"t": 1},), echo_args=True)])
    assert outcome.args_after == ({"t": 2},)


def test_an_unsendable_argument_fails_that_call_alone(worker: Any) -> None:
    from propgrade.sandbox.calls import FailureKind

    bad, good = worker.run([Call("keywords", ({1, 2},)), Call("keywords", (1,))])  # type: ignore[arg-type]
    assert bad.failure is not None and bad.failure.kind is FailureKind.UNSENDABLE
    assert "argument 1: a value of type set" in bad.failure.message
    assert good.value == {"args": 1}


@pytest.mark.parametrize(
    ("args", "kwargs", "where"),
    [
        ((1.0, [np.zeros(2), {"m": {1, 2}}]), {}, "argument 2[1]['m']"),
        (({"velocity": (0.0, object())},), {}, "argument 1['velocity'][1]"),
        ((np.zeros(1),), {"config": {"k" * 50: [{3}]}}, "config['" + "k" * 40 + "'][0]"),
    ],
    ids=["in_a_list", "in_a_dict", "under_a_long_key"],
)
def test_an_unsendable_argument_is_named_by_where_it_sits(
    args: tuple[Any, ...], kwargs: dict[str, Any], where: str
) -> None:
    from propgrade.sandbox.calls import Call

    with pytest.raises(wire.UnsendableValue) as caught:
        wire.encode_call_fields(Call.of("f", args, kwargs), wire.BlobTable())
    assert f"{where}: " in str(caught.value), str(caught.value)
