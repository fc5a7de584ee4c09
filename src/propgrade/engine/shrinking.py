"""Smaller versions of a failing case, from a declaration of what must stay consistent.

A case is a dataclass of arrays and numbers. Its class declares, once, the axes its arrays
share (``W`` is ``D × C``, ``X`` is ``N × D``, ``y`` is ``N``) and which values index an
axis (``y`` holds indices along ``C``); everything else follows from that. Removing rows
of ``N`` removes them from ``X`` and ``y`` together; removing a class of ``C`` removes
``W``'s column, the samples labelled with it, and renumbers the labels above it. Then
numbers are rounded toward simpler ones.

The engine tries the candidates in order, smallest first, keeping at each step the
first that still fails the same way (``grading.shrink_greedily``), so a failure is shown on
a small input. Candidates depend only on the case: the same failure always shrinks to the
same counterexample.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from propgrade.engine.frozen import frozen
from propgrade.errors import GraderError

__all__ = ["MAX_CANDIDATES", "Shrink", "candidates"]

# At most this many candidates per step, whoever proposes them: a step in which none
# fails runs them all, and each costs calls into the student's code.
MAX_CANDIDATES = 128
# Every single index of an axis up to this long is tried on its own; a longer axis is
# only cut (to its minimum, 2, or half), which reaches this length in a few steps.
_DELETE_EACH_UP_TO = 16
# Entries are set to 0 one at a time in arrays up to this size.
_ZERO_EACH_UP_TO = 64

Path = tuple[str | int, ...]


class Shrink:
    """How the engine may shrink a case of this class: the axes its arrays share.

    Set it as a class attribute of the case's dataclass (no annotation, so it is not a
    field), naming each array field's axes in order, separated by spaces. Axes with the
    same name keep one length: the number of training labels equals the number of
    training rows, W's rows equal X's columns::

        >>> import numpy as np
        >>> from dataclasses import dataclass
        >>> from propgrade import Shrink, frozen
        >>> @dataclass(frozen=True)
        ... class Case:
        ...     W: np.ndarray
        ...     X: np.ndarray
        ...     y: np.ndarray
        ...     reg: float
        ...     shrink = Shrink(W="D C", X="N D", y="N", indexes={"y": "C"}, at_least={"C": 2})
        ...     def __post_init__(self):
        ...         for name in ("W", "X", "y"):
        ...             object.__setattr__(self, name, frozen(getattr(self, name)))
        >>> case = Case(np.ones((3, 4)), np.ones((5, 3)), np.array([0, 3, 1, 3, 2]), 0.5)
        >>> smaller = Case.shrink.candidates(case)
        >>> for c in smaller[:3]:
        ...     print(f"W {c.W.shape}, X {c.X.shape}, y = {c.y.tolist()}")
        W (1, 4), X (5, 1), y = [0, 3, 1, 3, 2]
        W (3, 2), X (2, 3), y = [0, 1]
        W (3, 4), X (1, 3), y = [0]

    The first keeps one feature, the second the classes 0 and 1 (and the two samples
    labelled with them), the third one sample. Removing class 0 alone removes the sample
    labelled 0 and renumbers the labels above it::

        >>> c = next(c for c in smaller if c.W.shape == (3, 3) and len(c.y) == 4)
        >>> print(f"W {c.W.shape}, X {c.X.shape}, y = {c.y.tolist()}")
        W (3, 3), X (4, 3), y = [2, 0, 2, 1]

    When a case fails, the engine tries, smallest candidates first: each axis cut to
    its minimum length, to 2 and to half; then each single index of an axis of at most
    16 removed (rows, columns, classes); then ``optional`` fields set to None and numbers
    made simpler
    (a float scalar becomes ±1, then is rounded, never crossing or reaching 0; float
    arrays are rounded to 0 and 1 decimals, and, up to 64 entries, each nonzero entry set
    to 0). It keeps the first candidate that fails the same way and starts again from
    it, until none does. Candidates are made with ``dataclasses.replace`` (so
    ``__post_init__`` runs) and dropped if the case's ``valid()`` method, where it has
    one, returns False: that is where a constraint on values goes (a case whose SVM loss
    must stay 0). A case class with its own ``shrink_candidates()`` method is shrunk by
    that method instead.

    Axis names:

    - ``"N D"``: one name per dimension; ``"."`` for a dimension that keeps its length;
    - ``"*E"``: the array's elements in order, whatever its shape, along one axis ``E``
      (a cut array becomes 1-D), for arrays that only need the same shape as each other.

    A field that holds a tuple of arrays gets the spec for each of them, and the tuple
    is shortened too (to 1, to half, by its last one). A field that holds a dataclass
    with a declaration of its own is shrunk with it, in one namespace of axes: a wrapper
    case declares only what it adds (``shifts="N"``, one per sample of its inner case).

    ``indexes`` maps a field to the axis its values index: removing an index of that
    axis removes the entries that hold it (along the field's own first axis, and with it
    from every array sharing that axis) and renumbers those above it. A field holding a
    single int index (one sample of the batch) pins its index: the case cut to that index
    alone is tried first, and a candidate that would remove it is not made.

    ``at_least`` gives an axis's smallest length (default 1); ``fixed`` lists fields
    whose values are never simplified (their axes still shrink); ``optional`` lists
    fields that may be None. Ints, strings and dicts are left as they are.
    """

    def __init__(
        self,
        *,
        indexes: Mapping[str, str] | None = None,
        at_least: Mapping[str, int] | None = None,
        fixed: Iterable[str] = (),
        optional: Iterable[str] = (),
        **axes: str | Mapping[str, str],
    ) -> None:
        self.axes: dict[str, tuple[str, ...]] = {}
        self.entries: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, spec in axes.items():
            if isinstance(spec, Mapping):
                self.entries[name] = {k: _parse(f"{name}[{k!r}]", v) for k, v in spec.items()}
            else:
                self.axes[name] = _parse(name, spec)
        self.indexes = dict(indexes or {})
        self.at_least = dict(at_least or {})
        self.fixed = frozenset(fixed)
        self.optional = frozenset(optional)

    def __set_name__(self, owner: type, name: str) -> None:
        # Checked when the grader module is imported: a misspelt field would otherwise
        # only show as a case that never shrinks.
        fields = [f for klass in owner.__mro__ for f in vars(klass).get("__annotations__", {})]
        named = [*self.axes, *self.entries, *self.indexes, *self.fixed, *self.optional]
        for field in sorted(set(named) - set(fields)):
            lowered = {f.lower(): f for f in fields}
            close = [lowered[c] for c in difflib.get_close_matches(field.lower(), lowered, n=1)]
            raise GraderError(
                f"{owner.__qualname__}.{name}: Shrink names {field!r}, which is not a field "
                f"of {owner.__qualname__}",
                hint=f"did you mean {close[0]!r}?" if close else f"its fields: {fields}",
            )

    def candidates(self, case: Any) -> list[Any]:
        """Smaller and simpler valid versions of ``case``, smallest first."""
        return list(candidates(case))


def _parse(name: str, spec: object) -> tuple[str, ...]:
    if not isinstance(spec, str) or not spec.split():
        raise GraderError(f"Shrink({name}={spec!r}): give the axes as a string, 'N D'")
    parts = tuple(spec.split())
    if any(p.startswith("*") for p in parts) and len(parts) != 1:
        raise GraderError(f"Shrink({name}={spec!r}): '*E' stands alone")
    return parts


def declaration(case: Any) -> Shrink | None:
    found = getattr(type(case), "shrink", None)
    return found if isinstance(found, Shrink) else None


def candidates(case: Any) -> Iterator[Any]:
    """What the engine tries to shrink ``case``: its own ``shrink_candidates()`` if it has
    that method, else what its ``Shrink`` declaration proposes, else nothing.

    Made as they are taken: a step usually keeps one of the first few candidates, and
    those behind it are never built.
    """
    propose = getattr(case, "shrink_candidates", None)
    if callable(propose):
        found: Iterator[Any] = iter(propose())
    elif dataclasses.is_dataclass(case) and declaration(case) is not None:
        found = _Shrinker(case).candidates()
    else:
        found = iter(())
    return itertools.islice(found, MAX_CANDIDATES)


# --- the walk -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Leaf:
    """One array (or number) of the case, where it is and how it may change."""

    path: Path
    value: Any
    spec: tuple[str, ...] | None  # its axes, or None: its shape is kept
    fixed: bool  # its values are never simplified
    index_of: str | None  # the axis its values index


@dataclass(frozen=True)
class _Sequence:
    path: Path
    length: int


class _Shrinker:
    def __init__(self, case: Any) -> None:
        self.case = case
        self.leaves: list[_Leaf] = []
        self.sequences: list[_Sequence] = []
        self.optional: list[tuple[Path, Any]] = []
        self.minimum: dict[str, int] = {}
        self.lengths: dict[str, int] = {}
        self._walk(case, ())

    def _walk(self, obj: Any, at: Path) -> None:
        decl = declaration(obj)
        assert decl is not None
        for axis, least in decl.at_least.items():
            self.minimum[axis] = max(self.minimum.get(axis, 1), least)
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            path = (*at, f.name)
            if f.name in decl.optional and value is not None:
                self.optional.append((path, value))
            if dataclasses.is_dataclass(value) and not isinstance(value, type):
                if declaration(value) is not None:
                    self._walk(value, path)
                continue  # a case that declares nothing stays as it is
            spec = decl.axes.get(f.name)
            fixed = f.name in decl.fixed
            index_of = decl.indexes.get(f.name)
            if isinstance(value, tuple) and value and all(isinstance(v, np.ndarray) for v in value):
                if spec is not None:
                    self.sequences.append(_Sequence(path, len(value)))
                for i, item in enumerate(value):
                    self._leaf(_Leaf((*path, i), item, spec, fixed, index_of))
            elif isinstance(value, dict) and f.name in decl.entries:
                for key, entry in decl.entries[f.name].items():
                    if isinstance(value.get(key), np.ndarray):
                        self._leaf(_Leaf((*path, key), value[key], entry, fixed, None))
            elif isinstance(value, np.ndarray | float | int) and not isinstance(value, bool):
                self._leaf(_Leaf(path, value, spec, fixed, index_of))

    def _leaf(self, leaf: _Leaf) -> None:
        if leaf.spec is not None:
            if not isinstance(leaf.value, np.ndarray):
                raise GraderError(f"Shrink: {_name(leaf.path)} has axes but holds no array")
            shape = _shape(leaf.value, leaf.spec)
            if len(shape) != len(leaf.spec):
                raise GraderError(
                    f"Shrink: {_name(leaf.path)} is declared with axes "
                    f"{' '.join(leaf.spec)!r} but has shape {leaf.value.shape}"
                )
            for spec, length in zip(leaf.spec, shape, strict=True):
                if spec == ".":
                    continue
                axis = spec.lstrip("*")
                known = self.lengths.setdefault(axis, length)
                if known != length:
                    raise GraderError(
                        f"Shrink: axis {axis} has length {known} elsewhere but {length} in "
                        f"{_name(leaf.path)} (shape {leaf.value.shape})"
                    )
        self.leaves.append(leaf)

    # --- candidates -------------------------------------------------------------------

    def candidates(self) -> Iterator[Any]:
        # The case itself too: a ``__post_init__`` may rebuild a candidate into the case
        # it came from (a field derived from another), which would fail the same way at
        # every step and never end the walk.
        seen: set[bytes] = {_fingerprint(self.case)}
        for group in (self._cuts_of_every_axis(), self._single_removals()):
            made = [m for m in map(self._rebuild, group) if m is not None]
            # Smallest first: a stable sort, so ties keep the declaration's order.
            yield from self._new(sorted(made, key=_size), seen)
        # Simpler numbers come in the declaration's order, each made when it is taken.
        made_lazily = (m for m in map(self._rebuild, self._simpler()) if m is not None)
        yield from self._new(made_lazily, seen)

    @staticmethod
    def _new(made: Iterable[Any], seen: set[bytes]) -> Iterator[Any]:
        """``made`` without the candidates already proposed (two ways to one case)."""
        for candidate in made:
            key = _fingerprint(candidate)
            if key not in seen:
                seen.add(key)
                yield candidate

    def _axes(self) -> list[str]:
        return [a for a in self.lengths if self.lengths[a] > self._min(a)]

    def _cuts_of_every_axis(self) -> Iterator[dict[Path, Any]]:
        yield from self._shorter_sequences()
        for axis in self._axes():
            for keep in self._cuts(axis):
                drop = sorted(set(range(self.lengths[axis])) - set(keep))
                change = self._remove({axis: set(drop)})
                if change is not None:
                    yield change

    def _single_removals(self) -> Iterator[dict[Path, Any]]:
        for axis in self._axes():
            length = self.lengths[axis]
            if length <= _DELETE_EACH_UP_TO:
                for i in range(length):
                    change = self._remove({axis: {i}})
                    if change is not None:
                        yield change

    def _simpler(self) -> Iterator[dict[Path, Any]]:
        for path, _value in self.optional:
            yield {path: None}
        simple = [leaf for leaf in self.leaves if not leaf.fixed and leaf.index_of is None]
        for leaf in simple:
            if isinstance(leaf.value, float):
                for number in _simpler_numbers(leaf.value):
                    yield {leaf.path: number}
        arrays = [leaf for leaf in simple if _is_float_array(leaf.value)]
        for leaf in arrays:
            for digits in (0, 1):
                rounded = np.round(leaf.value, digits) + 0.0  # + 0.0: no -0. shown
                if not np.array_equal(rounded, leaf.value):
                    yield {leaf.path: rounded}
        for leaf in arrays:
            if leaf.value.size <= _ZERO_EACH_UP_TO:
                for index in zip(*np.nonzero(leaf.value), strict=True):
                    zeroed = leaf.value.copy()
                    zeroed[index] = 0.0
                    yield {leaf.path: zeroed}

    def _min(self, axis: str) -> int:
        return self.minimum.get(axis, 1)

    def _shorter_sequences(self) -> Iterator[dict[Path, Any]]:
        for seq in self.sequences:
            for keep in sorted({1, seq.length // 2, seq.length - 1}):
                if 0 < keep < seq.length:
                    yield {seq.path: ("keep", keep)}

    def _cuts(self, axis: str) -> list[list[int]]:
        """The index sets an axis may be cut to: its pinned indices alone, then its first
        ``minimum``, 2 and half indices."""
        length, least = self.lengths[axis], self._min(axis)
        cuts: list[list[int]] = []
        pinned = sorted(
            {
                int(leaf.value)
                for leaf in self.leaves
                if leaf.index_of == axis and isinstance(leaf.value, int)
            }
        )
        if pinned and len(pinned) >= least:
            cuts.append(pinned)
        for size in (least, 2, length // 2):
            if least <= size < length and list(range(size)) not in cuts:
                cuts.append(list(range(size)))
        if length >= 2 * least:
            # the second half too: what fails may all be in it
            cuts.append(list(range(length // 2, length)))
        return [cut for cut in cuts if len(cut) < length]

    def _remove(self, drops: dict[str, set[int]]) -> dict[Path, Any] | None:
        """The changes that remove these indices, with every removal they imply, or None
        where a removal is not allowed (an axis below its minimum, a pinned index)."""
        drops = {axis: set(ix) for axis, ix in drops.items()}
        while True:
            grown = False
            for leaf in self.leaves:
                if leaf.index_of is None or not drops.get(leaf.index_of):
                    continue
                gone = drops[leaf.index_of]
                if not isinstance(leaf.value, np.ndarray):
                    if int(leaf.value) in gone:
                        return None
                    continue
                hit = np.isin(leaf.value, list(gone))
                if not hit.any():
                    continue
                if leaf.spec is None or leaf.spec[0] in (".",) or leaf.value.ndim != 1:
                    return None
                along = leaf.spec[0].lstrip("*")
                extra = {int(i) for i in np.nonzero(hit)[0]}
                if not extra <= drops.setdefault(along, set()):
                    drops[along] |= extra
                    grown = True
            if not grown:
                break
        for axis, gone in drops.items():
            if self.lengths.get(axis, 0) - len(gone) < self._min(axis):
                return None
        changes: dict[Path, Any] = {}
        for leaf in self.leaves:
            value = leaf.value
            if leaf.spec is not None:
                for position, axis in enumerate(leaf.spec):
                    name = axis.lstrip("*")
                    if drops.get(name):
                        if axis.startswith("*"):
                            value = np.delete(np.ravel(value), sorted(drops[name]))
                        else:
                            value = np.delete(value, sorted(drops[name]), axis=position)
            if leaf.index_of is not None and drops.get(leaf.index_of):
                removed = np.array(sorted(drops[leaf.index_of]))
                if isinstance(value, np.ndarray):
                    value = value - np.searchsorted(removed, value).astype(value.dtype)
                else:
                    value = type(value)(value - int(np.searchsorted(removed, value)))
            if value is not leaf.value:
                changes[leaf.path] = value
        return changes

    def _rebuild(self, changes: dict[Path, Any]) -> Any | None:
        try:
            made = _apply(self.case, (), changes)
        except (ValueError, TypeError, IndexError, GraderError):
            return None  # __post_init__ refused it: not a valid case
        return made if made is not self.case and _all_valid(made) else None


def _apply(obj: Any, at: Path, changes: dict[Path, Any]) -> Any:
    if at in changes:
        change = changes[at]
        if isinstance(change, tuple) and len(change) == 2 and change[0] == "keep":
            return tuple(_apply(item, (*at, i), changes) for i, item in enumerate(obj))[: change[1]]
        # arrays made here are as constant as the drawn ones (engine/frozen.py)
        return frozen(change) if isinstance(change, np.ndarray) else change
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        updates = {}
        for f in dataclasses.fields(obj):
            if not f.init:
                continue
            value = getattr(obj, f.name)
            new = _apply(value, (*at, f.name), changes)
            if new is not value:
                updates[f.name] = new
        return dataclasses.replace(obj, **updates) if updates else obj
    if isinstance(obj, tuple) and any((*at, i) in changes for i in range(len(obj))):
        return tuple(_apply(item, (*at, i), changes) for i, item in enumerate(obj))
    if isinstance(obj, dict) and any((*at, key) in changes for key in obj):
        return {key: _apply(item, (*at, key), changes) for key, item in obj.items()}
    return obj


def _all_valid(obj: Any) -> bool:
    if not (dataclasses.is_dataclass(obj) and not isinstance(obj, type)):
        return True
    valid = getattr(obj, "valid", None)
    if callable(valid) and not valid():
        return False
    return all(_all_valid(getattr(obj, f.name)) for f in dataclasses.fields(obj))


def _shape(value: np.ndarray[Any, Any], spec: tuple[str, ...]) -> tuple[int, ...]:
    return (value.size,) if spec[0].startswith("*") else value.shape


def _is_float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 0


def _simpler_numbers(x: float) -> list[float]:
    """Simpler numbers of the same sign: ±1, x rounded, x to one decimal (never 0)."""
    if x == 0 or not math.isfinite(x):
        return []
    found: list[float] = []
    for number in (math.copysign(1.0, x), float(round(x)), float(round(x, 1))):
        if number != 0 and number != x and number not in found:
            found.append(number)
    return found


def _size(obj: Any) -> int:
    """How many numbers a case holds."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return sum(_size(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, np.ndarray):
        return int(obj.size)
    if isinstance(obj, tuple):
        return sum(_size(item) for item in obj)
    if isinstance(obj, dict):
        return sum(_size(item) for item in obj.values())
    return 1


def _fingerprint(obj: Any) -> bytes:
    """Identical candidates (two ways to the same case) are tried once."""
    parts: list[bytes] = []

    def feed(value: Any) -> None:
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            parts.append(type(value).__qualname__.encode())
            for f in dataclasses.fields(value):
                feed(getattr(value, f.name))
        elif isinstance(value, np.ndarray):
            parts.append(value.dtype.str.encode() + repr(value.shape).encode() + value.tobytes())
        elif isinstance(value, tuple):
            parts.append(b"(%d" % len(value))
            for item in value:
                feed(item)
        elif isinstance(value, dict):
            parts.append(b"{%d" % len(value))
            for key, item in value.items():
                feed(key)
                feed(item)
        else:
            parts.append(repr(value).encode())

    feed(obj)
    return b"\0".join(parts)


def _name(path: Path) -> str:
    return ".".join(str(p) for p in path)
