"""Cases and helpers shared by the public and hidden checks.

Released to students together with the public checks: nothing here may depend on the
reference solution.

The strategies keep every score within a few hundred. The most common correct naive
softmax (shift by the row max, then p = exp/sum, then -log p[y]) overflows to inf once a
row's score gap passes ~745; drawing unbounded inputs would fail correct students.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from propgrade import CheckFailed, Shrink, expect, format_array, frozen

SVM = {"svm_naive": "svm_loss_naive", "svm_vec": "svm_loss_vectorized"}
SOFTMAX = {"softmax_naive": "softmax_loss_naive", "softmax_vec": "softmax_loss_vectorized"}
ALL = {**SVM, **SOFTMAX}
VECTORIZED = {
    "svm_vec": ("svm_loss_vectorized", "svm_loss_naive"),
    "softmax_vec": ("softmax_loss_vectorized", "softmax_loss_naive"),
}

MAX_N, MAX_D, MAX_C = 8, 6, 5
W_BOUND, X_BOUND = 5.0, 10.0  # |score| <= MAX_D * W_BOUND * X_BOUND = 300


@dataclass(frozen=True, repr=False, eq=False)
class Case:
    """Arguments of one call ``f(W, X, y, reg)``."""

    W: np.ndarray
    X: np.ndarray
    y: np.ndarray
    reg: float

    # How a failing case shrinks: fewer samples (N), features (D) and classes (C, at
    # least 2; y holds indices along C), then simpler numbers.
    shrink = Shrink(W="D C", X="N D", y="N", indexes={"y": "C"}, at_least={"C": 2})

    def __post_init__(self) -> None:
        for name in ("W", "X", "y"):
            object.__setattr__(self, name, frozen(getattr(self, name)))

    @property
    def args(self) -> tuple[Any, ...]:
        return (self.W, self.X, self.y, self.reg)

    def with_W(self, W: np.ndarray) -> Case:
        return Case(W, self.X, self.y, self.reg)

    def valid(self) -> bool:
        """Whether the case still meets what its strategy guarantees (see subclasses)."""
        return True

    def __repr__(self) -> str:
        (n, d), c = self.X.shape, self.W.shape[1]
        return (
            f"N={n}, D={d}, C={c}, reg={self.reg!r}\n"
            f"W = {format_array(self.W)}\n"
            f"X = {format_array(self.X)}\n"
            f"y = {self.y.tolist()}"
        )


def _floats(bound: float) -> st.SearchStrategy[float]:
    """Numbers on a 0.01 grid: counterexamples stay readable and shrink towards 0.

    A grid makes exact hinge kinks (margin == 0) likely, which is wanted: the gradient
    checks must handle them, and correct code must never fail there.
    """
    steps = round(bound * 100)
    return st.integers(-steps, steps).map(lambda k: k / 100)


REGS = {
    "zero": st.just(0.0),
    # Large enough that a wrong regularization term changes the result visibly.
    "positive": st.floats(0.1, 10.0),
    "any": st.one_of(st.just(0.0), st.floats(0.1, 10.0)),
}


@st.composite
def cases(draw: st.DrawFn, reg: str = "any", w_bound: float = W_BOUND) -> Case:
    """N in 1..8 (N == C often), D in 1..6, C in 2..5, repeated labels, mixed margins."""
    c = draw(st.integers(2, MAX_C))
    n = draw(st.one_of(st.just(c), st.integers(1, MAX_N)))
    d = draw(st.integers(1, MAX_D))
    W = draw(hnp.arrays(np.float64, (d, c), elements=_floats(w_bound)))
    X = draw(hnp.arrays(np.float64, (n, d), elements=_floats(X_BOUND)))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return Case(W, X, y, draw(REGS[reg]))


REALISTIC_MAX_SCORE = 250.0  # keeps every row's score gap below the naive softmax's ~745


@st.composite
def realistic_cases(draw: st.DrawFn, reg: str = "any") -> Case:
    """Full-precision cases like those of training, where grid-only inputs hide bugs.

    W small and random as at initialisation (or larger, for inactive SVM margins), data
    rows centred like mean-subtracted images, often D >> C, a few batches of hundreds.
    Numbers off the 0.01 grid expose in-place writes that round, and float32 paths.
    """
    c = draw(st.integers(2, 10))
    shape = draw(st.sampled_from(["small", "small", "wide", "batch"]))
    n, d = {
        "small": (draw(st.integers(1, MAX_N)), draw(st.integers(1, MAX_D))),
        # D >> C, up to 64: a dW returned as a list must still fit through the worker's
        # reply (64 items per list), so that its value can be graded
        "wide": (draw(st.integers(2, 30)), draw(st.integers(4 * c, 64))),
        "batch": (draw(st.integers(100, 300)), draw(st.integers(10, 40))),
    }[shape]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w_scale = draw(st.sampled_from([1e-4, 1e-3, 1e-2, 0.1, 1.0]))
    x_scale = draw(st.sampled_from([1.0, 10.0, 100.0]))
    X = rng.normal(0.0, x_scale, size=(n, d))
    if n > 1:
        X -= X.mean(axis=0)
    W = rng.normal(0.0, w_scale, size=(d, c))
    top = float(np.max(np.abs(X @ W), initial=0.0))
    if top > REALISTIC_MAX_SCORE:
        W *= REALISTIC_MAX_SCORE / top
    y = rng.integers(0, c, size=n)
    return Case(W, X, y, draw(REGS[reg]))


def mixed_cases(reg: str = "any") -> st.SearchStrategy[Case]:
    """Grid cases (readable counterexamples, hinge kinks) and realistic ones."""
    return st.one_of(cases(reg=reg), realistic_cases(reg=reg))


# Checks that share a strategy object share its drawn cases (drawn once per run), and so
# share the student calls those cases need.
ANY_CASES = mixed_cases()
# Where realistic cases add nothing: a negative loss needs large W (inactive margins).
GRID_CASES = cases()
REG_ZERO_CASES = mixed_cases(reg="zero")
REG_POSITIVE_CASES = mixed_cases(reg="positive")

# Keeps the small and "wide" realistic shapes (up to 30 rows), drops the batches of hundreds.
NAIVE_MAX_N = 30


def batch_for_vectorized(strategy: st.SearchStrategy[Case]) -> Callable[[str], Any]:
    """``strategy`` for a vectorized version; for a naive one, its cases of <= 30 rows.

    The naive versions loop over the samples in Python: a batch of hundreds costs them
    ~10x a small case for every call, and catches nothing more in a check that a few
    samples decide. The check that needs a batch (the vectorized version against the
    naive one) keeps the whole strategy. One filtered strategy per strategy, so that
    checks sharing cases keep sharing them and their calls.
    """
    small = strategy.filter(lambda case: len(case.y) <= NAIVE_MAX_N)
    return lambda fn: small if fn.endswith("_naive") else strategy


ANY_CASES_NAIVE_SMALL = batch_for_vectorized(ANY_CASES)
REG_ZERO_CASES_NAIVE_SMALL = batch_for_vectorized(REG_ZERO_CASES)
REG_POSITIVE_CASES_NAIVE_SMALL = batch_for_vectorized(REG_POSITIVE_CASES)


@dataclass(frozen=True, eq=False)
class TwoWeights:
    """A case and a second, different W for the same data."""

    case: Case
    other_W: np.ndarray

    def __repr__(self) -> str:
        return f"{self.case!r}\nsecond W = {format_array(self.other_W)}"


@st.composite
def two_weights(draw: st.DrawFn) -> TwoWeights:
    """Ordinary inputs (N >= 2, C >= 3) where any working loss differs between the two W."""
    c = draw(st.integers(3, 6))
    n, d = draw(st.integers(4, 12)), draw(st.integers(3, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.normal(0.0, 1.0, size=(n, d))
    y = rng.integers(0, c, size=n)
    W = rng.normal(0.0, 0.01, size=(d, c))
    return TwoWeights(Case(W, X, y, 0.0), frozen(rng.normal(0.0, 1.0, size=(d, c))))


@dataclass(frozen=True, eq=False)
class RowShifted:
    """A case, and a constant to add to all scores of each sample (one per sample)."""

    case: Case
    shifts: np.ndarray

    # one shift per sample of the case, kept as drawn while samples are dropped
    shrink = Shrink(shifts="N", fixed=("shifts",))

    def shifted(self) -> Case:
        """The same scores plus the shifts: one more feature, equal to the sample's shift,
        with weight 1 for every class."""
        W, X = self.case.W, self.case.X
        return Case(
            np.vstack([W, np.ones((1, W.shape[1]))]),
            np.hstack([X, self.shifts[:, None]]),
            self.case.y,
            self.case.reg,
        )

    def __repr__(self) -> str:
        return (
            f"{self.case!r}\nshifts = {format_array(self.shifts)} "
            "(added to every score of each sample)"
        )


# Large enough that exp overflows or underflows without each row's own shift; different
# per sample so that one max for the whole batch is not enough, and below -745 so that a
# running max started at 0 is not either. Each row's own gap stays that of the base case.
_SHIFTS = st.sampled_from([-4000.0, -2600.0, -1300.0, 0.0, 1000.0, 2500.0])


@st.composite
def row_shifts(draw: st.DrawFn, max_n: int | None = None) -> RowShifted:
    bases = mixed_cases(reg="zero")
    if max_n is not None:
        bases = bases.filter(lambda case: len(case.y) <= max_n)
    base = draw(bases)
    n = len(base.y)
    if draw(st.booleans()):
        shifts = np.full(n, draw(st.floats(900.0, 1100.0)))  # the same for every sample
    else:
        shifts = np.array([draw(_SHIFTS) + draw(st.floats(-50.0, 50.0)) for _ in range(n)])
    return RowShifted(base, frozen(shifts))


ROW_SHIFTS = row_shifts()
ROW_SHIFTS_SMALL = row_shifts(max_n=NAIVE_MAX_N)


def row_shifts_naive_small(fn: str) -> st.SearchStrategy[RowShifted]:
    """``row_shifts()``, of at most 30 rows for a naive version: two rows shifted far
    apart already need each row's own max, and the batch-wide max is the vectorized
    version's mistake."""
    return ROW_SHIFTS_SMALL if fn.endswith("_naive") else ROW_SHIFTS


@st.composite
def near_zero_weights(draw: st.DrawFn) -> Case:
    """W = 0 or |W| <= 1e-6, reg = 0: every score is (almost) 0."""
    base = draw(cases(reg="zero", w_bound=1.0))
    scale = draw(st.sampled_from([0.0, 1e-6]))
    return base.with_W(base.W * scale)


class ZeroLossCase(Case):
    """A case whose SVM loss is 0: every correct score beats the others by more than 1."""

    def valid(self) -> bool:
        return bool(np.all(svm_margins(self) < -1e-6))


class BiasCase(Case):
    """A case whose last feature is the constant 1 (the bias trick)."""

    def valid(self) -> bool:
        return bool(np.all(self.X[:, -1] == 1.0))


@dataclass(frozen=True, eq=False)
class Shifted:
    """A bias case and a constant to add to every score."""

    case: BiasCase
    shift: float

    shrink = Shrink(fixed=("shift",))  # the case shrinks, the shift stays ~1000

    def __repr__(self) -> str:
        return f"{self.case!r}\nshift = {self.shift!r} (added to every score)"


@st.composite
def zero_svm_loss(draw: st.DrawFn) -> Case:
    """A case whose SVM loss is exactly 0: every correct score beats the others by > 1.

    Built in a basis where class c lives on axis c, then rotated, so the structure is not
    visible in the numbers.
    """
    c = draw(st.integers(2, MAX_C))
    n = draw(st.integers(1, MAX_N))
    d = draw(st.integers(c, MAX_D))
    y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    noise = draw(hnp.arrays(np.float64, (n, d), elements=st.floats(-0.3, 0.3)))
    strength = draw(st.floats(1.0, 3.0))
    X = noise + 3.0 * np.eye(d)[y]
    W = strength * np.eye(d)[:, :c]
    seed_matrix = draw(hnp.arrays(np.float64, (d, d), elements=st.floats(-1.0, 1.0)))
    q, r = np.linalg.qr(seed_matrix + 3.0 * np.eye(d))
    rotation = q * np.sign(np.diag(r))
    return ZeroLossCase(rotation @ W, X @ rotation.T, y, 0.0)


@st.composite
def with_bias_column(draw: st.DrawFn) -> Shifted:
    """A case whose last feature is the constant 1, and a shift c ~ 1000.

    Adding c to the last row of W adds c to every score.
    """
    base = draw(cases(reg="zero"))
    X = base.X.copy()
    X[:, -1] = 1.0
    return Shifted(BiasCase(base.W, X, base.y, 0.0), draw(st.floats(900.0, 1100.0)))


@st.composite
def two_batch_sizes(draw: st.DrawFn) -> tuple[Case, Case]:
    """The same W with N = 8 and N = 64 samples."""
    big = draw(cases(reg="positive"))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    n_big = 64
    X = rng.uniform(-X_BOUND, X_BOUND, size=(n_big, big.W.shape[0]))
    y = rng.integers(0, big.W.shape[1], size=n_big)
    return Case(big.W, X[:8], y[:8], big.reg), Case(big.W, X, y, big.reg)


def moved_score(case: Case, sample: int, cls: int, amount: float) -> Case:
    """The same case with one score moved: sample ``sample``'s score for class ``cls``
    gains ``amount``, every other score stays the same.

    Done through the function's own inputs, one more feature: 1 for that sample and 0
    for the others, with weight ``amount`` for that class and 0 for the others. Compare
    with ``moved_score(case, sample, cls, 0.0)``, which has the same extra feature with
    weight 0: the two differ in that one score only.
    """
    n, c = len(case.y), case.W.shape[1]
    feature = np.zeros((n, 1))
    feature[sample, 0] = 1.0
    weights = np.zeros((1, c))
    weights[0, cls] = amount
    return Case(np.vstack([case.W, weights]), np.hstack([case.X, feature]), case.y, case.reg)


# --- helpers used by the checks ----------------------------------------------------------


def exact_loss_and_grad(value: Any, case: Case, fn: str) -> tuple[float, np.ndarray]:
    """``(loss, dW)`` exactly as documented: a single number and a float64 array of W's shape.

    Only the check about the form uses this; checks about values use ``loss_and_grad``.
    """
    loss, dW = expect.pair(value, f"{fn}")
    return expect.scalar(loss, f"the loss returned by {fn}"), expect.array(
        dW, f"the gradient dW returned by {fn}", case.W.shape, dtype=np.float64
    )


def loss_and_grad(value: Any, case: Case, fn: str) -> tuple[float, np.ndarray]:
    """The values of ``(loss, dW)``, read leniently: a loss as a size-1 array or dW as a
    list or float32 is graded by its value (the form is ``output_shapes``' business)."""
    loss, dW = expect.pair(value, f"{fn}")
    return expect.scalar_value(loss, f"the loss returned by {fn}"), expect.array_value(
        dW, f"the gradient dW returned by {fn}", case.W.shape
    )


def loss_of(value: Any, fn: str) -> float:
    """The loss a student's return value holds, for checks about the loss alone.

    A function that returns the loss without dW still has its loss graded.
    """
    if isinstance(value, tuple) and len(value) == 2:
        value = value[0]
    return expect.scalar_value(value, f"the loss returned by {fn}")


def svm_margins(case: Case) -> np.ndarray:
    scores = case.X @ case.W
    correct = scores[np.arange(len(case.y)), case.y][:, None]
    margins = scores - correct + 1.0
    margins[np.arange(len(case.y)), case.y] = -np.inf
    return margins


def near_hinge_kink(case: Case, step: float = 0.0) -> bool:
    """Whether some SVM margin is at the kink 0, up to rounding or a finite-difference step.

    There dW has two valid values (margin > 0 or margin >= 0 counts as active) and a
    numerical gradient straddles the kink: no gradient comparison is fair there.
    """
    scale = 1.0 + float(np.max(np.abs(case.X @ case.W), initial=0.0))
    reach = 1e-9 * scale + 2.0 * step * float(np.max(np.abs(case.X), initial=0.0))
    return bool(np.any(np.abs(svm_margins(case)) <= reach))


def numerical_gradient_points(case: Case, count: int = 2) -> list[tuple[int, int]]:
    """A fixed, spread-out choice of W's coordinates to differentiate numerically.

    Two: six, three and two kill the same mutants, check by check, with the course's seed
    and with two others (7 and 232); one misses some with seed 7. The reference checks
    compare every entry of dW.
    """
    d, c = case.W.shape
    order = np.random.default_rng(d * 31 + c).permutation(d * c)[:count]
    return [(int(i) // c, int(i) % c) for i in order]


def require(condition: bool, message: str, expected: Any = None, got: Any = None) -> None:
    if not condition:
        raise CheckFailed(message, expected=expected, got=got)
