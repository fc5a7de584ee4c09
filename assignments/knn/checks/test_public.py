"""Public checks: released to students, runnable with ``propgrade check``.

None of them needs the reference solution: each is a property every Euclidean distance
and every k-nearest-neighbour vote has, on data made so that the answer is known.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

from propgrade import Shrink, StudentCallFailed, check, check_each, expect, format_array

from .common import (
    ANY_DATA,
    DISTANCES,
    HINTS,
    SELF_DATA,
    Data,
    KnownDistances,
    Moved,
    Sizes,
    Votes,
    distances,
    exact_k_votes,
    known_distances,
    labels,
    majority_votes,
    mistake_hint,
    more_rows,
    more_training_rows,
    nearest_votes,
    require,
    scale_of,
    scalings,
    tied_votes,
    trained,
    translations,
    vote,
)

# Exact on integer data in any order of summation; far below any real mistake.
RTOL = 1e-9


class Apart(Data):
    """Data whose meaning is its layout (test row i is training row i, the last training
    row is far away): only features are removed, which keeps that; rows and values stay."""

    shrink = Shrink(X_train=". D", X_test=". D", fixed=("X_train", "X_test"))


@st.composite
def _apart(draw: st.DrawFn) -> Data:
    """Training rows around 0 and one far away; test rows on training rows."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, d = draw(st.integers(3, 6)), draw(st.integers(2, 5))
    X_train = rng.integers(-5, 6, size=(m, d)).astype(np.float64)
    X_train[-1] += 100.0
    return Apart(X_train, np.arange(m) % 3, X_train[: m - 1].copy())


@check_each(
    DISTANCES,
    "{key}_implemented",
    "{fn} does the work: a test row placed on a training row is nearer to it than to a far "
    "one, and the distances are not all equal. The other checks of {fn} count once this one "
    "passes.",
    _apart(),
    max_examples=3,
)
def implemented(case: Data, student: Any, fn: str) -> None:
    # Loose on purpose: squared or L1 distances pass; their own checks grade them.
    got = distances(student, fn, case)
    require(
        bool(np.all(np.isfinite(got))) and len(np.unique(got)) > 1,
        f"{fn} returned the same number for every pair of rows: is it still the starter code?",
        got=format_array(got),
    )
    far = case.X_train.shape[0] - 1
    for i in range(case.X_test.shape[0]):
        require(
            got[i, i] < got[i, far],
            f"test row {i} is training row {i}, yet {fn} puts it nearer to training row "
            f"{far}, which is 100 away in every coordinate",
            expected=f"dists[{i}, {i}] < dists[{i}, {far}]",
            got=format_array(got),
        )


@check_each(
    DISTANCES,
    "{key}_output_shape",
    "{fn} returns a float numpy array of shape (num_test, num_train): rows are test examples.",
    ANY_DATA,
    max_examples=10,
    hint=HINTS["transposed"],
)
def output_shape(case: Data, student: Any, fn: str) -> None:
    value = trained(student, case).call(fn, case.X_test)
    expect.array(value, f"the distances returned by {fn}", case.shape)
    require(
        isinstance(value, np.ndarray) and value.dtype.kind == "f",
        f"the distances returned by {fn} have dtype {getattr(value, 'dtype', '?')}",
        expected="a float dtype",
        got=str(getattr(value, "dtype", type(value).__name__)),
    )


@check_each(
    DISTANCES,
    "{key}_nonnegative",
    "Every distance {fn} returns is a finite number >= 0.",
    ANY_DATA,
)
def nonnegative(case: Data, student: Any, fn: str) -> None:
    got = distances(student, fn, case)
    expect.finite(got, f"the distances returned by {fn}")
    require(
        bool(np.all(got >= 0)),
        f"{fn} returned a negative distance",
        expected="dists >= 0",
        got=format_array(got),
    )


@check_each(
    DISTANCES,
    "{key}_known_distances",
    "{fn} gives the Euclidean distance: a test row made from a training row by adding a "
    "vector of known length (such as (3, 4), of length 5) is that far from it.",
    known_distances(),
    hint="The Euclidean distance is the square root of the sum of squared differences.",
)
def known(drawn: KnownDistances, student: Any, fn: str) -> None:
    case = drawn.case
    got = distances(student, fn, case)
    found = got[np.arange(len(drawn.source)), drawn.source]
    try:
        expect.close(found, drawn.length, "the distance of each test row to its source", rtol=1e-9)
    except expect.CheckFailed as error:
        raise expect.CheckFailed(
            error.message, expected=error.expected, got=error.got, hint=mistake_hint(got, case)
        ) from None


@check_each(
    DISTANCES,
    "{key}_self_distances",
    "Trained on X and asked for the distances of X itself (one array), {fn} returns a "
    "symmetric matrix with zeros on its diagonal.",
    SELF_DATA,
)
def self_distances(case: Data, student: Any, fn: str) -> None:
    got = distances(student, fn, case, f"the distances of X to itself returned by {fn}")
    expect.finite(got, f"the distances of X to itself returned by {fn}")
    scale = scale_of(got)
    expect.close(
        np.diag(got),
        np.zeros(len(got)),
        "the diagonal (each row to itself)",
        rtol=0.0,
        atol=RTOL * scale,
    )
    expect.close(got, got.T, "the distances (compared with their transpose)", rtol=RTOL)


@check_each(
    DISTANCES,
    "{key}_translation",
    "Moving every row of both sets by the same vector leaves the distances {fn} returns unchanged.",
    translations(),
)
def translation(drawn: Moved, student: Any, fn: str) -> None:
    before = distances(student, fn, drawn.case)
    after = distances(student, fn, drawn.moved(), f"the distances of the moved rows by {fn}")
    expect.close(after, before, "the distances after moving both sets", rtol=RTOL)


@check_each(
    DISTANCES,
    "{key}_scaling",
    "Multiplying every row of both sets by c multiplies the distances {fn} returns by |c|.",
    scalings(),
)
def scaling(drawn: Moved, student: Any, fn: str) -> None:
    before = distances(student, fn, drawn.case)
    after = distances(student, fn, drawn.moved(), f"the distances of the scaled rows by {fn}")
    hint = HINTS["squared"] if np.allclose(after, drawn.factor**2 * before, rtol=RTOL) else ""
    try:
        expect.close(after, abs(drawn.factor) * before, "the distances after scaling", rtol=RTOL)
    except expect.CheckFailed as error:
        raise expect.CheckFailed(
            error.message, expected=error.expected, got=error.got, hint=hint
        ) from None


@check_each(
    DISTANCES,
    "{key}_inputs_unchanged",
    "{fn} leaves its argument X, and the training data it was given, unchanged.",
    SELF_DATA,
    max_examples=10,
)
def inputs_unchanged(case: Data, student: Any, fn: str) -> None:
    # The test rows are the training rows (one array): a write into either shows here.
    outcome = trained(student, case).outcome(fn, case.X_test, echo_args=True)
    after = outcome.args_after
    require(after is not None and len(after) == 1, "the argument could not be read back")
    assert after is not None
    expect.unchanged(case.X_test, after[0], "X (which is also the training data here)")


@check_each(
    {"one_loop": "compute_distances_one_loop", "no_loops": "compute_distances_no_loops"},
    "{key}_matches_two_loops",
    "{fn} returns the same distances as compute_distances_two_loops.",
    ANY_DATA,
)
def matches_two_loops(case: Data, student: Any, fn: str) -> None:
    want = distances(student, "compute_distances_two_loops", case)
    got = distances(student, fn, case)
    expect.close(got, want, f"the distances of {fn}", rtol=RTOL)


def _events(student: Any, fn: str, case: Data) -> int:
    count = trained(student, case).outcome(fn, case.X_test, trace=True).trace_events
    require(
        count is not None and count >= 0,
        f"the Python work of {fn} could not be measured (was sys.settrace changed?)",
    )
    assert count is not None
    return count


@check(
    "one_loop_single_loop",
    "compute_distances_one_loop loops over the test rows only: it runs the same Python "
    "lines for 5 and for 60 training rows.",
    more_training_rows(),
    max_examples=2,
)
def one_loop_single_loop(drawn: Sizes, student: Any) -> None:
    fn = "compute_distances_one_loop"
    a, b = _events(student, fn, drawn.small), _events(student, fn, drawn.big)
    require(
        b - a < 20,
        f"{fn} runs {b - a} more Python line/call events for 60 training rows than for 5: "
        "it loops over the training rows in Python",
        expected=f"about {a} events for both",
        got=f"{a} events for 5 training rows, {b} for 60",
    )


@check(
    "no_loops_no_loop",
    "compute_distances_no_loops does no Python loop: it runs the same Python lines for "
    "3 x 5 and for 40 x 60 rows.",
    more_rows(),
    max_examples=2,
)
def no_loops_no_loop(drawn: Sizes, student: Any) -> None:
    fn = "compute_distances_no_loops"
    a, b = _events(student, fn, drawn.small), _events(student, fn, drawn.big)
    require(
        b - a < 20,
        f"{fn} runs {b - a} more Python line/call events for 40 x 60 rows than for 3 x 5: "
        "it loops in Python",
        expected=f"about {a} events for both",
        got=f"{a} events for 3 x 5 rows, {b} for 40 x 60",
    )


# The size of a CIFAR-10 subset's work: an (num_test, num_train, D) float64 intermediate
# takes 250 * 2000 * 1024 * 8 bytes = 3.8 GiB, far over the sandbox's memory, while the
# expanded form needs ~40 MB and a fraction of a second.
BIG = (250, 2000, 1024)


class Big(Data):
    """Not shrunk: the failure is about this size."""

    shrink = Shrink(
        X_train="M D",
        X_test="N D",
        at_least=dict(zip("NMD", BIG, strict=True)),
        fixed=("X_train", "X_test"),
    )


@st.composite
def _big(draw: st.DrawFn) -> Data:
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n, m, d = BIG
    X_train = rng.integers(0, 256, size=(m, d)).astype(np.float64)
    X_test = rng.integers(0, 256, size=(n, d)).astype(np.float64)
    return Big(X_train, rng.integers(0, 10, size=m), X_test)


@check(
    "no_loops_memory",
    "compute_distances_no_loops works at the course's sizes (250 test rows, 2000 training "
    "rows, 1024 features) without an intermediate array of shape (num_test, num_train, D).",
    _big(),
    max_examples=1,
    hint=(
        "Broadcasting X[:, None, :] - X_train[None, :, :] builds num_test x num_train x D "
        "numbers (3.8 GiB here). Expand ||x - y||^2 = ||x||^2 + ||y||^2 - 2 x.y: one "
        "matrix product gives all the dot products."
    ),
)
def no_loops_memory(case: Data, student: Any) -> None:
    fn = "compute_distances_no_loops"
    try:
        value = trained(student, case).call(fn, case.X_test)
    except StudentCallFailed as failed:
        n, m, d = BIG
        text = failed.failure.message + failed.failure.traceback
        if "MemoryError" in text or "Unable to allocate" in text or failed.failure.kind == "crash":
            raise expect.CheckFailed(
                f"{fn} ran out of memory on {n} test rows x {m} training rows x {d} "
                f"features: an intermediate of shape ({n}, {m}, {d}) would take "
                f"{n * m * d * 8 / 2**30:.1f} GiB, more than the sandbox allows",
                expected="memory that grows with num_test x num_train, not times D",
                got=failed.failure.message[:300],
            ) from None
        if failed.failure.kind == "timeout":
            raise expect.CheckFailed(
                f"{fn} did not finish in time on {n} test rows x {m} training rows x {d} "
                "features, where whole-array operations take a fraction of a second",
                expected="no Python loop over the rows",
                got=failed.failure.message[:300],
                hint="A Python loop over the rows is slow at the course's sizes: see "
                "no_loops_no_loop.",
            ) from None
        raise
    got = expect.array_value(value, f"the distances returned by {fn}", case.shape)
    expect.finite(got, f"the distances returned by {fn}")


class Duplicates(Data):
    """Rows and features are removed, values stay: the nan comes from rounding these
    numbers, and simpler ones would show another failure (or none)."""

    shrink = Shrink(X_train="M D", y_train="M", X_test="N D", fixed=("X_train", "X_test"))


@st.composite
def _duplicates(draw: st.DrawFn) -> Data:
    """Non-integer rows, distances of the set to itself: each row's twin is itself."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(0.0, 37.3, size=(200, 40))
    return Duplicates(X, rng.integers(0, 10, size=200), X, same=True)


@check(
    "no_loops_duplicate_rows",
    "On non-integer data, compute_distances_no_loops gives 0 (not nan) between a row and "
    "itself: advice only, worth no points (the course's pixel data is never affected).",
    _duplicates(),
    max_examples=1,
    hint=HINTS["clip"],
)
def no_loops_duplicate_rows(case: Data, student: Any) -> None:
    fn = "compute_distances_no_loops"
    got = distances(student, fn, case, f"the distances of X to itself returned by {fn}")
    bad = int(np.sum(~np.isfinite(got)))
    require(
        bad == 0,
        f"the distance to itself is nan for {bad} of {len(case.X_test)} non-integer rows",
        expected="0 between a row and itself",
        got=format_array(np.diag(got)),
    )
    # rounding leaves at most ~1e-8 of the largest squared distance: its root, ~1e-4
    diagonal = np.diag(got)
    require(
        bool(np.all(diagonal <= 1e-3 * scale_of(got))),
        "the distance of a non-integer row to itself is far from 0",
        expected="0 between a row and itself (up to rounding)",
        got=format_array(diagonal),
    )


# --- predict_labels ----------------------------------------------------------------------

ALL_VOTES = st.one_of(nearest_votes(), majority_votes(), exact_k_votes(), tied_votes())


@st.composite
def _two_dists(draw: st.DrawFn) -> tuple[Votes, Votes]:
    """The same training labels; the nearest neighbour of every test row changes."""
    case = draw(nearest_votes())
    other = np.roll(case.dists, 1, axis=1)
    moved = Votes(other, case.y_train, 1, case.expected, "the same distances, shifted by one")
    return case, moved


@check(
    "predict_labels_implemented",
    "predict_labels does the work: its labels change when the distances do. The other checks "
    "of predict_labels count once this one passes.",
    nearest_votes(),
    max_examples=3,
)
def predict_labels_implemented(case: Votes, student: Any) -> None:
    first = vote(student, case)
    # the same distances with each training row's labels replaced by the next class
    shifted = Votes(case.dists, (case.y_train + 1) % 7, 1, case.expected, case.what)
    second = vote(student, shifted)
    require(
        not np.array_equal(first, second),
        "predict_labels returned the same labels for two different sets of training labels: "
        "is it still the starter code?",
        got=format_array(first),
    )


@check(
    "predict_labels_output_shape",
    "predict_labels returns a numpy array of num_test whole-number labels.",
    ALL_VOTES,
    max_examples=10,
)
def predict_labels_output_shape(case: Votes, student: Any) -> None:
    value = trained(student, case.data()).call("predict_labels", case.dists, k=case.k)
    count = case.dists.shape[0]
    expect.array(value, "the labels returned by predict_labels", (count,))
    labels(value, "the labels returned by predict_labels", count)


def _vote_check(case: Votes, student: Any, hint: str = "") -> None:
    got = vote(student, case)
    if not np.array_equal(got, case.expected):
        i = int(np.flatnonzero(got != case.expected)[0])
        raise expect.CheckFailed(
            f"test row {i}: predict_labels(dists, k={case.k}) gave {got[i]:g} ({case.what})",
            expected=format_array(case.expected),
            got=format_array(got),
            hint=hint,
        )


@check(
    "predict_labels_nearest",
    "With k = 1, predict_labels gives each test row the label of its nearest training row.",
    nearest_votes(),
)
def predict_labels_nearest(case: Votes, student: Any) -> None:
    _vote_check(case, student)


@check(
    "predict_labels_majority",
    "With k = 3, 5 or 7, the label most common among the k nearest training rows wins, even "
    "when the nearest one and all farther ones have another label.",
    majority_votes(),
)
def predict_labels_majority(case: Votes, student: Any) -> None:
    _vote_check(case, student)


@check(
    "predict_labels_exact_k",
    "Exactly the k nearest training rows vote: made-up distances where k - 1 or k + 1 "
    "voters would elect another label.",
    exact_k_votes(),
    hint="Check the slice that picks the k nearest: its bound, and that it sorts each row.",
)
def predict_labels_exact_k(case: Votes, student: Any) -> None:
    _vote_check(case, student)


@check(
    "predict_labels_ties",
    "When two labels get the same number of votes, predict_labels returns the smaller one, "
    "even when the larger one is nearer.",
    tied_votes(),
    hint=HINTS["ties"],
)
def predict_labels_ties(case: Votes, student: Any) -> None:
    _vote_check(case, student, HINTS["ties"])


@check(
    "predict_labels_dists_unchanged",
    "predict_labels leaves its argument dists unchanged.",
    ALL_VOTES,
    max_examples=10,
)
def predict_labels_dists_unchanged(case: Votes, student: Any) -> None:
    handle = trained(student, case.data())
    outcome = handle.outcome("predict_labels", case.dists, echo_args=True, k=case.k)
    after = outcome.args_after
    require(after is not None and len(after) == 1, "the argument could not be read back")
    assert after is not None
    expect.unchanged(case.dists, after[0], "dists")


# --- predict -----------------------------------------------------------------------------


@st.composite
def _distinct_rows(draw: st.DrawFn) -> Data:
    """Training rows that are all different, trained on and then predicted (one array)."""
    case = draw(SELF_DATA)
    keep = np.unique(case.X_train, axis=0, return_index=True)[1]
    keep.sort()
    X = case.X_train[keep]
    return Data(X, case.y_train[keep], X, same=True)


@check(
    "predict_training_set",
    "With k = 1, predict on the training rows themselves returns the training labels "
    "(each row is its own nearest neighbour).",
    _distinct_rows(),
)
def predict_training_set(case: Data, student: Any) -> None:
    value = trained(student, case).call("predict", case.X_train, k=1, num_loops=0)
    got = labels(value, "the labels returned by predict", case.X_train.shape[0])
    expect.close(got, case.y_train.astype(np.float64), "the predicted labels", rtol=0.0)
