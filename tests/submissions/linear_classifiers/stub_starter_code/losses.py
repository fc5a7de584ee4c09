"""The untouched CS231n starter code: loss = 0.0, dW = zeros, pass, return loss, dW.

Loss functions for linear classifiers: the multiclass SVM (hinge) loss and the
softmax (cross-entropy) loss, each with its gradient, each in two versions.

* ``*_naive``: explicit Python loops over the samples (and the classes).
* ``*_vectorized``: no Python loop over the samples; array operations only.

Conventions shared by all four functions
----------------------------------------
All four have the signature ``f(W, X, y, reg) -> (loss, dW)``.

* ``W`` has shape (D, C): one column of weights per class.
* ``X`` has shape (N, D): one sample per row. The class scores of sample ``i`` are
  ``s = X[i] @ W``, a vector of length C.
* ``y`` has shape (N,): integer labels with ``0 <= y[i] < C``. The same label may appear
  several times in a batch.
* ``reg`` is a float >= 0, the regularization strength.

The loss is the mean of the per-sample losses over the N samples, plus
``reg * np.sum(W * W)``. The gradient ``dW`` has the shape of ``W`` and therefore
includes ``2 * reg * W``. Return the loss as a single number (a Python float is best)
and ``dW`` as a float64 array. None of the functions may modify ``W``, ``X`` or ``y``.
"""

import numpy as np


def svm_loss_naive(W, X, y, reg):
    """Multiclass SVM loss and its gradient, computed with explicit loops.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean hinge loss over the N samples plus ``reg * np.sum(W * W)``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``.

    Notes
    -----
    With scores ``s = X[i] @ W``, the loss of sample ``i`` is

        ``sum over j != y[i] of max(0, s[j] - s[y[i]] + 1)``

    (margin delta = 1; the correct class itself never contributes). A margin counts
    as active, and contributes to the gradient, when it is strictly positive; at a
    margin of exactly 0 the hinge has a kink and either choice is a valid subgradient.

    Use explicit Python loops over the samples and the classes. Do not modify ``W``,
    ``X`` or ``y``.
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    # TODO: compute the loss and the gradient
    pass

    return loss, dW


def svm_loss_vectorized(W, X, y, reg):
    """Multiclass SVM loss and its gradient, vectorized.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
        Labels may repeat within the batch.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean hinge loss over the N samples plus ``reg * np.sum(W * W)``; the same
        value as ``svm_loss_naive``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``; the
        same value as ``svm_loss_naive``.

    Notes
    -----
    Same loss as ``svm_loss_naive`` (margin delta = 1, a margin counts when it is
    strictly positive), computed without any Python loop over the samples: the work
    should cost about as much as the two matrix products ``X @ W`` and
    ``X.T @ (something of shape (N, C))``.

    Careful with repeated labels: ``a[:, y] -= b`` with repeated entries in ``y``
    applies only one of the updates for each repeated index. Do not modify ``W``, ``X``
    or ``y``.
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    # TODO: compute the loss and the gradient
    pass

    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, computed with explicit loops.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean cross-entropy loss over the N samples plus ``reg * np.sum(W * W)``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``.

    Notes
    -----
    With scores ``s = X[i] @ W``, the loss of sample ``i`` is

        ``-log(exp(s[y[i]]) / sum over j of exp(s[j]))``

    Compute it in a numerically stable way: subtract ``max(s)`` from the scores of the
    sample before exponentiating (this does not change the result), or use the
    log-sum-exp form. Without that, ``exp`` overflows once scores reach about 710.

    Use explicit Python loops over the samples (and the classes). Do not modify ``W``,
    ``X`` or ``y``.
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    # TODO: compute the loss and the gradient
    pass

    return loss, dW


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax (cross-entropy) loss and its gradient, vectorized.

    Parameters
    ----------
    W : ndarray of shape (D, C)
        Weights, one column per class.
    X : ndarray of shape (N, D)
        A minibatch of N samples, one per row.
    y : ndarray of shape (N,)
        Integer labels; ``y[i]`` in ``range(C)`` is the correct class of ``X[i]``.
        Labels may repeat within the batch.
    reg : float
        Regularization strength, ``reg >= 0``.

    Returns
    -------
    loss : float
        The mean cross-entropy loss over the N samples plus ``reg * np.sum(W * W)``;
        the same value as ``softmax_loss_naive``.
    dW : ndarray of shape (D, C), float64
        The gradient of ``loss`` with respect to ``W``, including ``2 * reg * W``; the
        same value as ``softmax_loss_naive``.

    Notes
    -----
    Same loss as ``softmax_loss_naive``, numerically stable (shift each row of scores
    by its own maximum, or use log-sum-exp), computed without any Python loop over the
    samples: the work should cost about as much as the two matrix products ``X @ W``
    and ``X.T @ (something of shape (N, C))``. Do not modify ``W``, ``X`` or ``y``.
    """
    loss = 0.0
    dW = np.zeros(W.shape)  # initialize the gradient as zero

    # TODO: compute the loss and the gradient
    pass

    return loss, dW
