"""The wire format: round trips, and hostile bytes rejected before anything is allocated."""

from __future__ import annotations

import json
import struct
import tracemalloc
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from propgrade.engine.frozen import frozen
from propgrade.errors import PropgradeError
from propgrade.sandbox import wire
from propgrade.sandbox.calls import Unsupported, Value


def round_trip(value: Value) -> Value:
    table = wire.BlobTable()
    encoded = wire.encode_value(value, table)
    frame = wire.decode_frame(wire.encode_frame({"value": encoded}, table.blobs))
    return wire.decode_value(frame.header["value"], frame.blobs)


def raw_frame(header: Any, *blobs: bytes, header_bytes: bytes | None = None) -> bytes:
    text = header_bytes if header_bytes is not None else json.dumps(header).encode()
    return struct.pack(">I", len(text)) + text + b"".join(blobs)


def array_frame(ref: dict[str, Any], blob: bytes) -> bytes:
    return raw_frame({"value": ref, "blobs": [len(blob)]}, blob)


def decode_array_frame(data: bytes) -> Value:
    frame = wire.decode_frame(data)
    return wire.decode_value(frame.header["value"], frame.blobs)


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 2**63, 1.5, float("inf"), -0.0, 1e-300, 2 - 3j, "W"],
)
def test_scalars_round_trip_with_their_python_type(value: Value) -> None:
    back = round_trip(value)
    assert type(back) is type(value)
    assert back == value


def test_nan_round_trips() -> None:
    back = round_trip(float("nan"))
    assert isinstance(back, float) and back != back


def test_numpy_scalars_arrive_as_python_scalars() -> None:
    assert round_trip(np.float32(0.5)) == 0.5
    assert type(round_trip(np.int64(3))) is int
    assert type(round_trip(np.bool_(True))) is bool


def test_nested_tuples_and_lists_come_back_as_tuples() -> None:
    value = (1.0, [2, (np.arange(3), None)], ())
    back = round_trip(value)
    assert isinstance(back, tuple) and isinstance(back[1], tuple)
    np.testing.assert_array_equal(back[1][1][0], np.arange(3))  # type: ignore[index]


@pytest.mark.parametrize("dtype", sorted(wire.ALLOWED_DTYPES))
def test_every_allowed_dtype_round_trips(dtype: str) -> None:
    array = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    back = round_trip(array)
    assert isinstance(back, np.ndarray)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, array)


def test_decoded_arrays_are_writable_and_own_their_data() -> None:
    back = round_trip(np.ones((2, 3)))
    assert isinstance(back, np.ndarray)
    assert back.flags.writeable and back.flags.owndata
    back[0, 0] = 5.0


def test_non_contiguous_and_big_endian_arrays_are_sent_as_plain_little_endian() -> None:
    strided = np.arange(20.0).reshape(4, 5)[:, ::2]
    big = np.arange(6, dtype=">i4")
    assert np.array_equal(round_trip(strided), strided)  # type: ignore[arg-type]
    back = round_trip(big)
    assert isinstance(back, np.ndarray) and back.dtype.str == "<i4"
    np.testing.assert_array_equal(back, big)


def test_zero_size_and_zero_dim_arrays_round_trip() -> None:
    for array in (np.zeros((0, 5)), np.array(3.5), np.zeros((3, 0, 2), dtype=np.int8)):
        back = round_trip(array)
        assert isinstance(back, np.ndarray) and back.shape == array.shape


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(
        dtype=st.sampled_from(["<f8", "<f4", "<i8", "|u1", "|b1", "<c16"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, max_side=5),
    )
)
def test_arrays_round_trip_bit_for_bit(array: np.ndarray[Any, Any]) -> None:
    back = round_trip(array)
    assert isinstance(back, np.ndarray)
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()


def test_identical_arrays_travel_once() -> None:
    table = wire.BlobTable()
    W = np.ones((20, 5))
    refs = [wire.encode_value((W, np.ones((20, 5)), np.zeros(3)), table) for _ in range(10)]
    assert len(table.blobs) == 2
    assert refs[0] == refs[9]


def test_a_writable_array_is_encoded_as_it_is_now() -> None:
    # Only an array that can never change keeps its wire form from one frame to the next
    # (a drawn case's): anything else is read again, as it is when sent.
    W = np.zeros(3)
    assert round_trip(W).tobytes() == np.zeros(3).tobytes()
    W[:] = 7.0
    assert round_trip(W).tobytes() == np.full(3, 7.0).tobytes()
    case = frozen(np.arange(3.0))
    assert round_trip(case).tobytes() == round_trip(case).tobytes() == case.tobytes()


def test_unsendable_arguments_raise() -> None:
    table = wire.BlobTable()
    with pytest.raises(wire.WireError):
        wire.encode_value(np.array(["a"], dtype=object), table)  # type: ignore[arg-type]
    with pytest.raises(wire.WireError):
        wire.encode_value({1, 2}, table)  # type: ignore[arg-type]
    assert issubclass(wire.WireError, PropgradeError)


def test_reader_assembles_frames_fed_byte_by_byte() -> None:
    data = wire.encode_frame({"a": 1}, [b"xyz"]) + wire.encode_frame({"b": 2})
    reader = wire.FrameReader()
    frames = []
    for i in range(len(data)):
        reader.feed(data[i : i + 1])
        frame = reader.next_frame()
        if frame is not None:
            frames.append(frame)
    assert [f.header for f in frames] == [{"a": 1, "blobs": [3]}, {"b": 2, "blobs": []}]
    assert bytes(frames[0].blobs[0]) == b"xyz"
    assert reader.buffered == 0


def test_unsupported_marker_decodes_to_unsupported() -> None:
    frame = wire.decode_frame(raw_frame({"value": {"unsupported": "Sneaky"}, "blobs": []}))
    assert wire.decode_value(frame.header["value"], frame.blobs) == Unsupported("Sneaky")


# -- hostile frames ---------------------------------------------------------------------


def test_oversized_header_length_is_rejected_from_the_prefix_alone() -> None:
    reader = wire.FrameReader()
    with pytest.raises(wire.WireError, match="header length"):
        reader.feed(struct.pack(">I", 0xFFFFFFFF))


def test_blob_lengths_beyond_the_cap_are_rejected_before_the_body_arrives() -> None:
    reader = wire.FrameReader(max_frame_bytes=1 << 20)
    with pytest.raises(wire.OverBudget, match="over its budget"):
        reader.feed(raw_frame({"blobs": [2 << 20]}))
    with pytest.raises(wire.WireError):
        wire.FrameReader().feed(raw_frame({"blobs": [2**40, 2**40]}))


def test_rejecting_a_hostile_frame_allocates_almost_nothing() -> None:
    tracemalloc.start()
    try:
        for data in (
            struct.pack(">I", 0x7FFFFFFF),
            raw_frame({"blobs": [2**62]}),
            raw_frame({"value": {"blob": 0, "dtype": "<f8", "shape": [2**40, 2**40]}, "blobs": [8]})
            + b"\0" * 8,
        ):
            with pytest.raises(wire.WireError):
                decode_array_frame(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize(
    "header_bytes",
    [
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"no_blobs": 1}',
        b'{"blobs": [-1]}',
        b'{"blobs": [true]}',
        b'{"blobs": "3"}',
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_headers_raise_wire_error(header_bytes: bytes) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_frame(raw_frame(None, header_bytes=header_bytes))


def test_truncated_and_trailing_bytes_raise() -> None:
    data = wire.encode_frame({"a": 1}, [b"1234"])
    with pytest.raises(wire.WireError, match="incomplete"):
        wire.decode_frame(data[:-1])
    with pytest.raises(wire.WireError, match="after the end"):
        wire.decode_frame(data + b"x")


@pytest.mark.parametrize(
    ("ref", "blob", "message"),
    [
        # shape/length mismatch
        ({"blob": 0, "dtype": "<f8", "shape": [3]}, b"\0" * 16, "does not match its blob"),
        ({"blob": 0, "dtype": "|O", "shape": [1]}, b"\0" * 8, "not allowed"),  # object dtype
        ({"blob": 0, "dtype": ">f8", "shape": [1]}, b"\0" * 8, "not allowed"),  # big-endian
        ({"blob": 0, "dtype": "<U1", "shape": [1]}, b"\0" * 4, "not allowed"),  # strings
        ({"blob": 0, "dtype": "<f16", "shape": [1]}, b"\0" * 16, "not allowed"),  # long double
        # a non-canonical name
        ({"blob": 0, "dtype": "float64", "shape": [1]}, b"\0" * 8, "not allowed"),
        ({"blob": 0, "dtype": "<f8", "shape": [1] * 9}, b"\0" * 8, "too many dimensions"),
        ({"blob": 0, "dtype": "<f8", "shape": [-1]}, b"\0" * 8, "non-negative"),
        # negative dimensions whose product matches the blob's length
        ({"blob": 0, "dtype": "<f8", "shape": [-2, -4]}, b"\0" * 64, "non-negative"),
        ({"blob": 0, "dtype": "<f8", "shape": [True]}, b"\0" * 8, "non-negative"),
        ({"blob": 0, "dtype": "<f8", "shape": 1}, b"\0" * 8, "malformed"),
        ({"blob": 1, "dtype": "<f8", "shape": [1]}, b"\0" * 8, "missing blob"),  # no such blob
        ({"blob": 0, "dtype": "<f8", "shape": [1], "extra": 1}, b"\0" * 8, "unknown tagged"),
    ],
    ids=[
        "length",
        "object",
        "big-endian",
        "string",
        "long-double",
        "alias",
        "ndim",
        "negative",
        "negatives",
        "bool",
        "not-a-list",
        "no-blob",
        "extra-key",
    ],
)
def test_bad_array_descriptions_raise_wire_error(
    ref: dict[str, Any], blob: bytes, message: str
) -> None:
    # Each case must be refused by its own check (match=), not by a later one by luck.
    with pytest.raises(wire.WireError, match=message):
        decode_array_frame(array_frame(ref, blob))


@pytest.mark.parametrize(
    "value",
    [
        [[[[[1.0]]]]],  # nested deeper than MAX_DEPTH
        list(range(wire.MAX_ITEMS + 1)),
        "x" * (wire.MAX_TEXT + 1),
        2**64,
        {"complex": [1.0]},
        {"complex": ["1", 2]},
        {"unsupported": 3},
        {"eval": "__import__('os')"},
    ],
)
def test_bad_values_raise_wire_error(value: object) -> None:
    with pytest.raises(wire.WireError):
        wire.decode_value(value, [])


def test_strings_are_accepted_up_to_the_text_limit() -> None:
    assert wire.decode_value("x" * wire.MAX_TEXT, []) == "x" * wire.MAX_TEXT
    with pytest.raises(wire.WireError, match="characters"):
        wire.decode_value("x" * (wire.MAX_TEXT + 1), [])
