"""Cases and helpers shared by the public and hidden checks of the kNN classifier.

Released to students together with the public checks: nothing here may depend on the
reference solution.

The classifier is an object: every check reaches it only through its methods, on an
object built in the worker (``student.new``), trained, then asked one question. Students
store the training data under names of their own; no check reads an attribute.

The data is integer-valued, as the course's images are (pixels 0..255 stored as floats):
on such data the usual no-loop form ||x||^2 + ||y||^2 - 2 x.y is exact, so no property
fails a correct student on rounding. Where a property holds only up to rounding (float32
inputs, non-integer data) the tolerance is relative to the largest distance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade import CheckFailed, Shrink, expect, format_array, frozen

CLASS = "KNearestNeighbor"
DISTANCES = {
    "two_loops": "compute_distances_two_loops",
    "one_loop": "compute_distances_one_loop",
    "no_loops": "compute_distances_no_loops",
}
LOOPS = {"two_loops": 2, "one_loop": 1, "no_loops": 0}

HINTS = {
    "squared": (
        "These are squared distances: take the square root of the summed squared differences."
    ),
    "l1": (
        "This looks like a sum of absolute differences (the L1 distance): the Euclidean "
        "distance is the square root of the sum of squared differences."
    ),
    "transposed": (
        "Rows are test examples and columns training examples: dists[i, j] compares X[i] "
        "with the j-th training row."
    ),
    "ties": (
        "Among labels that got the same number of votes the smallest wins: "
        "np.argmax(np.bincount(closest_y)) does that; Counter.most_common does not (it "
        "returns the tied label seen first)."
    ),
    "clip": (
        "Rounding can make ||x||^2 + ||y||^2 - 2 x.y slightly negative for identical "
        "rows, and the square root of a negative number is nan: clip the squared "
        "distances at 0 first (np.maximum(d2, 0))."
    ),
}


def require(
    condition: bool, message: str, expected: Any = None, got: Any = None, hint: str = ""
) -> None:
    if not condition:
        raise CheckFailed(message, expected=expected, got=got, hint=hint)


# --- the data ----------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class Data:
    """Training rows with their labels, and test rows.

    With ``same``, the test rows are the training rows themselves: one array, passed to
    ``train`` and then to the distance method (the distances of a set to itself).
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    same: bool = False

    # With ``same``, X_test follows X_train whatever the shrinker does to it.
    shrink = Shrink(X_train="M D", y_train="M", X_test="N D")

    def __post_init__(self) -> None:
        object.__setattr__(self, "X_train", frozen(self.X_train))
        object.__setattr__(self, "y_train", frozen(self.y_train))
        test = self.X_train if self.same else frozen(self.X_test)
        object.__setattr__(self, "X_test", test)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.X_test.shape[0], self.X_train.shape[0])

    def mapped(self, change: Any) -> Data:
        """The same data with ``change`` applied to every row of both sets."""
        X_train = change(self.X_train)
        X_test = X_train if self.same else change(self.X_test)
        return Data(X_train, self.y_train, X_test, self.same)

    def __repr__(self) -> str:
        (n, d), m = self.X_test.shape, self.X_train.shape[0]
        head = f"num_test={n}, num_train={m}, D={d}, dtype {self.X_train.dtype}"
        if self.same:
            return (
                f"{head}; the test rows are the training rows (one array)\n"
                f"X = {format_array(self.X_train)}\ny_train = {format_array(self.y_train)}"
            )
        return (
            f"{head}\nX_train = {format_array(self.X_train)}\n"
            f"y_train = {format_array(self.y_train)}\nX_test = {format_array(self.X_test)}"
        )


def _labels(rng: np.random.Generator, m: int, classes: int) -> np.ndarray:
    return rng.integers(0, classes, size=m).astype(np.int64)


@st.composite
def grid_data(draw: st.DrawFn, same: bool = False) -> Data:
    """Small readable data: integer coordinates in -9..9, up to 8 rows and 6 features."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n, d = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 6))
    X_train = rng.integers(-9, 10, size=(m, d)).astype(np.float64)
    X_test = rng.integers(-9, 10, size=(n, d)).astype(np.float64)
    return Data(X_train, _labels(rng, m, draw(st.integers(2, 4))), X_test, same)


# Features of the course's data: a CIFAR-10 image is 32 x 32 x 3 = 3072 pixels.
PIXEL_FEATURES = (12, 48, 300, 3072)


@st.composite
def pixel_data(draw: st.DrawFn, same: bool = False, dtype: Any = np.float64) -> Data:
    """Images as the course loads them: pixel values 0..255 stored as floats, every row
    far from the origin, tens of rows, up to 3072 features."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, n = draw(st.integers(10, 40)), draw(st.integers(2, 12))
    d = draw(st.sampled_from(PIXEL_FEATURES))
    X_train = rng.integers(0, 256, size=(m, d)).astype(dtype)
    X_test = rng.integers(0, 256, size=(n, d)).astype(dtype)
    return Data(X_train, _labels(rng, m, 10), X_test, same)


def data(same: bool = False) -> st.SearchStrategy[Data]:
    """Readable grid data, and pixel data at the course's sizes."""
    return st.one_of(grid_data(same=same), pixel_data(same=same))


# Checks that share a strategy object share its drawn cases, and the calls they need.
ANY_DATA = data()
SELF_DATA = data(same=True)


# --- calling the student's object --------------------------------------------------------


def trained(student: Any, case: Data) -> Any:
    """A handle on the student's classifier after ``train(X_train, y_train)``."""
    return student.new(CLASS).then("train", case.X_train, case.y_train)


def distances(student: Any, fn: str, case: Data, what: str = "") -> np.ndarray:
    """``fn``'s distances for ``case`` as a float64 array of shape (num_test, num_train).

    The form is graded by its own check: a list, float32, or the transposed matrix (rows
    for training rows) is read for its values, so that one mistake costs one check.
    """
    value = trained(student, case).call(fn, case.X_test)
    what = what or f"the distances returned by {fn}"
    flipped = case.shape[::-1]
    if isinstance(value, np.ndarray) and value.shape == flipped != case.shape:
        return expect.array_value(value, what, flipped).T
    return expect.array_value(value, what, case.shape)


def mistake_hint(got: np.ndarray, case: Data) -> str:
    """The hint of a known mistake that ``got`` matches on ``case``, or ""."""
    diff = case.X_test[:, None, :].astype(np.float64) - case.X_train[None, :, :]
    right = np.sqrt(np.sum(diff * diff, axis=2))
    predictions = {
        "squared": right**2,
        "l1": np.sum(np.abs(diff), axis=2),
    }
    for key, predicted in predictions.items():
        with np.errstate(invalid="ignore", over="ignore"):
            if got.shape == predicted.shape and np.allclose(got, predicted, rtol=1e-6, atol=1e-9):
                return HINTS[key]
    if got.shape == right.T.shape and got.shape != right.shape:
        return HINTS["transposed"]
    return ""


def scale_of(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.max(np.abs(finite), initial=0.0))


# --- constructed cases -------------------------------------------------------------------

# Integer vectors whose Euclidean length is an integer: the check knows each distance
# without computing one, and an L1 or squared distance gives another integer.
PYTHAGOREAN = (
    (3, 4),
    (5, 12),
    (8, 15),
    (1, 2, 2),
    (2, 3, 6),
    (1, 4, 8),
    (2, 6, 9),
    (1, 2, 4, 10),
)


class Placed(Data):
    """Rows whose values are the distances' proof: rows go, features and values stay."""

    shrink = Shrink(X_train="M .", y_train="M", X_test="N .", fixed=("X_train", "X_test"))


@dataclass(frozen=True, repr=False, eq=False)
class KnownDistances:
    """Training rows, and test rows each placed at a known distance from one of them."""

    case: Placed
    source: np.ndarray  # test row i was made from training row source[i]
    length: np.ndarray  # ... by adding a vector of this Euclidean length

    # Removing a training row removes the test rows made from it.
    shrink = Shrink(source="N", length="N", indexes={"source": "M"}, fixed=("length",))

    def __repr__(self) -> str:
        pairs = ", ".join(
            f"X_test[{i}] is X_train[{j}] + a vector of length {L:g}"
            for i, (j, L) in enumerate(zip(self.source, self.length, strict=True))
        )
        return f"{self.case!r}\n{pairs}"


@st.composite
def known_distances(draw: st.DrawFn) -> KnownDistances:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    d = draw(st.integers(4, 12))
    m, n = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    X_train = rng.integers(-50, 51, size=(m, d)).astype(np.float64)
    source = rng.integers(0, m, size=n)
    X_test = X_train[source].copy()
    lengths = np.zeros(n)
    for i in range(n):
        offset = PYTHAGOREAN[int(rng.integers(0, len(PYTHAGOREAN)))]
        where = rng.choice(d, size=len(offset), replace=False)
        signs = rng.choice([-1.0, 1.0], size=len(offset))
        X_test[i, where] += signs * np.array(offset, dtype=np.float64)
        lengths[i] = float(np.sqrt(np.sum(np.square(offset))))
    # 1/8 (exact in binary) makes every distance of some cases smaller than 1
    scale = draw(st.sampled_from([1.0, 0.125]))
    case = Placed(scale * X_train, _labels(rng, m, 3), scale * X_test)
    return KnownDistances(case, frozen(source), frozen(scale * lengths))


@dataclass(frozen=True, repr=False, eq=False)
class Moved:
    """Data, and what is done to every row of both sets: a vector added, or a factor."""

    case: Data
    shift: np.ndarray | None = None
    factor: float = 1.0

    # The factors keep integer data exact in binary: a simpler one (0.1) would not.
    shrink = Shrink(shift="D", fixed=("factor",))

    def moved(self) -> Data:
        if self.shift is not None:
            shift = self.shift
            return self.case.mapped(lambda a: frozen(a + shift))
        return self.case.mapped(lambda a: frozen(a * self.factor))

    def __repr__(self) -> str:
        change = (
            f"every row of both sets moved by t = {format_array(self.shift)}"
            if self.shift is not None
            else f"every row of both sets multiplied by c = {self.factor!r}"
        )
        return f"{self.case!r}\n{change}"


@st.composite
def translations(draw: st.DrawFn) -> Moved:
    """Integer shifts up to 1000 in every coordinate: rows even farther from the origin."""
    case = draw(ANY_DATA)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shift = rng.integers(-1000, 1001, size=case.X_train.shape[1]).astype(np.float64)
    return Moved(case, shift=frozen(shift))


@st.composite
def scalings(draw: st.DrawFn) -> Moved:
    """Factors that keep integer data exact in binary, negative ones too; 1/8 brings
    neighbours closer than 1."""
    factors = [-3.0, -1.0, 0.125, 0.5, 2.0, 4.0]
    return Moved(draw(ANY_DATA), factor=draw(st.sampled_from(factors)))


@dataclass(frozen=True, repr=False, eq=False)
class Sizes:
    """One classifier asked at two sizes, to count the Python work of each call."""

    small: Data
    big: Data

    def __repr__(self) -> str:
        return (
            f"num_test x num_train = {self.small.shape} and {self.big.shape}, "
            f"D = {self.small.X_train.shape[1]} (random integers)"
        )


def _random(rng: np.random.Generator, m: int, n: int, d: int) -> Data:
    X_train = rng.integers(-9, 10, size=(m, d)).astype(np.float64)
    X_test = rng.integers(-9, 10, size=(n, d)).astype(np.float64)
    return Data(X_train, _labels(rng, m, 3), X_test)


@st.composite
def more_training_rows(draw: st.DrawFn) -> Sizes:
    """4 test rows against 5 and against 60 training rows."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return Sizes(_random(rng, 5, 4, 6), _random(rng, 60, 4, 6))


@st.composite
def more_rows(draw: st.DrawFn) -> Sizes:
    """3 x 5 rows and 40 x 60 rows."""
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    return Sizes(_random(rng, 5, 3, 6), _random(rng, 60, 40, 6))


# --- votes -------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False, eq=False)
class Votes:
    """A distance matrix made up for ``predict_labels``, the training labels it refers
    to, ``k``, and the labels the vote must give."""

    dists: np.ndarray
    y_train: np.ndarray
    k: int
    expected: np.ndarray
    what: str

    # Test rows may go (each has its own block of training rows); the distances and labels
    # are what the case is made of, and stay as they are.
    shrink = Shrink(dists="N .", expected="N", fixed=("dists",))

    def __post_init__(self) -> None:
        for name in ("dists", "y_train", "expected"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    def data(self) -> Data:
        """Training data to train on: one feature, the row's index (``predict_labels``
        uses only the labels)."""
        m = self.y_train.shape[0]
        return Data(np.arange(m, dtype=np.float64)[:, None], self.y_train, np.zeros((1, 1)))

    def __repr__(self) -> str:
        order = np.argsort(self.dists, axis=1, kind="stable")
        rows = "\n".join(
            f"  test {i}: labels from nearest to farthest {self.y_train[order[i]].tolist()}"
            for i in range(self.dists.shape[0])
        )
        return (
            f"k = {self.k}; {self.what}\ny_train = {self.y_train.tolist()}\n"
            f"dists = {format_array(self.dists)}\n{rows}"
        )


def _dists_for(rng: np.random.Generator, rows: list[list[int]], m: int) -> tuple[Any, Any]:
    """Distances and training labels such that test row i sees the labels ``rows[i]``
    from nearest to farthest (distinct distances), every training row in a random place."""
    n = len(rows)
    y_train = np.zeros(m, dtype=np.int64)
    dists = np.zeros((n, m))
    # every test row sees the same training rows in its own order: labels must agree, so
    # each test row gets its own block of training rows
    per = m // n
    for i, labels in enumerate(rows):
        block = np.arange(i * per, (i + 1) * per)
        y_train[block] = labels
        dists[i] = 1000.0 + rng.permutation(m)  # other blocks: far away, distinct
        dists[i, block] = 1.0 + np.cumsum(rng.integers(1, 5, size=per))
    return dists, y_train


@st.composite
def nearest_votes(draw: st.DrawFn) -> Votes:
    """k = 1: each test row's nearest training row decides; the rest of the labels differ."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, per, classes = draw(st.integers(1, 5)), draw(st.integers(3, 6)), draw(st.integers(2, 5))
    rows, expected = [], []
    for _ in range(n):
        first = int(rng.integers(0, classes))
        rest = [int(c) for c in rng.integers(0, classes, size=per - 1)]
        # the others outvote the nearest one: only k = 1 gives ``first``
        others = [c for c in range(classes) if c != first]
        rest = [others[0]] * (per - 1) if others else rest
        rows.append([first, *rest])
        expected.append(first)
    dists, y_train = _dists_for(rng, rows, n * per)
    return Votes(dists, y_train, 1, np.array(expected), "the nearest neighbour's label wins")


@st.composite
def majority_votes(draw: st.DrawFn) -> Votes:
    """Odd k: the majority of the k nearest wins, though the nearest one and the farther
    ones have another label."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.sampled_from([3, 5, 7]))
    n, classes = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    per = 2 * k + 1
    rows, expected = [], []
    for _ in range(n):
        winner, other = (int(c) for c in rng.choice(classes, size=2, replace=False))
        majority = k // 2 + 1
        near = [other] + [winner] * majority + [other] * (k - majority - 1)
        rows.append(near + [other] * (per - k))
        expected.append(winner)
    dists, y_train = _dists_for(rng, rows, n * per)
    return Votes(dists, y_train, k, np.array(expected), "the majority of the k nearest wins")


@st.composite
def exact_k_votes(draw: st.DrawFn) -> Votes:
    """Odd k: k nearest give one label, k - 1 and k + 1 nearest give another (a tie
    broken toward the smaller label)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.sampled_from([3, 5, 7]))
    n, classes = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    per = k + 3
    rows, expected = [], []
    for _ in range(n):
        small, large = sorted(int(c) for c in rng.choice(classes, size=2, replace=False))
        near = [small] * (k // 2) + [large] * (k // 2 + 1)
        rows.append(near + [small] * (per - k))
        expected.append(large)
    dists, y_train = _dists_for(rng, rows, n * per)
    return Votes(dists, y_train, k, np.array(expected), "exactly the k nearest vote")


@st.composite
def tied_votes(draw: st.DrawFn) -> Votes:
    """Even k, two labels with k/2 votes each; the larger one is nearer, and seen first."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = draw(st.sampled_from([2, 4, 6]))
    n, classes = draw(st.integers(1, 4)), draw(st.integers(2, 6))
    per = k + 2
    rows, expected = [], []
    for _ in range(n):
        small, large = sorted(int(c) for c in rng.choice(classes, size=2, replace=False))
        near = [large, small] * (k // 2)
        rows.append(near + [large] * (per - k))
        expected.append(small)
    dists, y_train = _dists_for(rng, rows, n * per)
    return Votes(dists, y_train, k, np.array(expected), "a tie goes to the smaller label")


def labels(value: Any, what: str, count: int) -> np.ndarray:
    """Predicted labels as a 1-d array of ``count`` whole numbers (int or float dtype)."""
    got = expect.array_value(value, what, (count,))
    require(
        bool(np.all(np.isfinite(got))) and bool(np.all(got == np.round(got))),
        f"{what} are not whole numbers",
        expected="integer labels",
        got=format_array(got),
    )
    return got


def vote(student: Any, case: Votes) -> np.ndarray:
    handle = trained(student, case.data())
    value = handle.call("predict_labels", case.dists, k=case.k)
    return labels(value, "the labels returned by predict_labels", case.dists.shape[0])
