"""The batches remembered across submissions: those sent again, within a byte bound."""

from __future__ import annotations

from propgrade.sandbox.sent_batches import EncodedBatch, SentBatches


def _batch(size: int) -> EncodedBatch:
    return EncodedBatch(args=[{}], blobs=[b"x" * size])


def _sent_twice(sent: SentBatches, key: str, batch: EncodedBatch) -> None:
    sent.keep(key, _batch(len(batch.blobs[0])))  # the first sending is only noted
    sent.keep(key, batch)


def test_a_batch_is_remembered_from_its_second_sending_on() -> None:
    sent = SentBatches(max_bytes=100)
    first, second = _batch(10), _batch(10)
    sent.keep("k", first)
    assert sent.find("k") is None and first.key is None and sent.held_bytes == 0
    sent.keep("k", second)
    assert sent.find("k") is second and sent.held_bytes == 10


def test_the_note_of_batches_sent_once_starts_over_when_full() -> None:
    sent = SentBatches(max_bytes=100, max_sighted=2)
    for key in ("a", "b", "c"):  # c finds the note full: it starts over with c alone
        sent.keep(key, _batch(1))
    sent.keep("a", _batch(1))
    assert sent.find("a") is None
    sent.keep("c", _batch(1))
    assert sent.find("c") is not None


def test_the_least_recently_used_batches_go_first_past_the_bound() -> None:
    sent = SentBatches(max_bytes=25)
    a, b, c = _batch(10), _batch(10), _batch(10)
    _sent_twice(sent, "a", a)
    _sent_twice(sent, "b", b)
    assert sent.find("a") is a  # a is now the most recent
    _sent_twice(sent, "c", c)
    assert sent.find("b") is None
    assert sent.find("a") is a and sent.find("c") is c
    assert sent.held_bytes == 20


def test_frames_count_towards_the_bound_and_only_for_batches_kept() -> None:
    sent = SentBatches(max_bytes=40)
    kept, passing = _batch(10), _batch(10)
    _sent_twice(sent, "kept", kept)
    sent.keep_frame(passing, (0, (0,)), b"f" * 10, [1])
    assert passing.frames == {} and sent.held_bytes == 10
    sent.keep_frame(kept, (0, (0,)), b"f" * 10, [1])
    assert kept.frames == {(0, (0,)): (b"f" * 10, [1])} and sent.held_bytes == 20
    other = _batch(15)
    _sent_twice(sent, "other", other)
    sent.keep_frame(other, (0, (0,)), b"f" * 10, [1])  # 45 bytes: the oldest goes
    assert sent.find("kept") is None and sent.held_bytes == 25
    sent.keep_frame(kept, (1, (0,)), b"f" * 10, [1])  # forgotten: not counted again
    assert sent.held_bytes == 25


def test_a_batch_larger_than_the_bound_is_not_kept() -> None:
    sent = SentBatches(max_bytes=5)
    _sent_twice(sent, "huge", _batch(10))
    assert sent.find("huge") is None and len(sent) == 0 and sent.held_bytes == 0
