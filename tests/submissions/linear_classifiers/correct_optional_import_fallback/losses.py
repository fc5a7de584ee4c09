"""propgrade test fixture ``correct_optional_import_fallback``.

The reference solution, whose softmax_loss_vectorized uses scipy's logsumexp when scipy
can be imported and numpy's own log-sum-exp otherwise (`try: ... except ImportError:`).
The import policy refuses scipy as if it were not installed, so the fallback runs.

A correct submission; it must get full marks.
"""

import numpy as np

try:
    from scipy.special import logsumexp
except ImportError:  # scipy not installed: numpy below
    logsumexp = None


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
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape, dtype=np.float64)
    for i in range(num_train):
        scores = X[i].dot(W)
        correct_class_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_class_score + 1.0  # delta = 1
            if margin > 0:
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


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
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    correct_class_scores = scores[rows, y][:, np.newaxis]  # (N, 1)
    margins = np.maximum(0.0, scores - correct_class_scores + 1.0)  # delta = 1
    margins[rows, y] = 0.0  # the correct class never contributes
    loss = np.sum(margins) / num_train + reg * np.sum(W * W)

    # d loss_i / d s_j is 1 for every active margin j and -(number of active margins)
    # for j = y[i]. Each row is written once, so repeated labels are handled correctly.
    coeff = (margins > 0).astype(np.float64)  # (N, C)
    coeff[rows, y] = -np.sum(coeff, axis=1)
    dW = X.T.dot(coeff) / num_train + 2 * reg * W
    return float(loss), dW


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
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    num_classes = W.shape[1]
    loss = 0.0
    dW = np.zeros(W.shape, dtype=np.float64)
    for i in range(num_train):
        scores = X[i].dot(W)
        shifted = scores - np.max(scores)  # for numerical stability
        log_sum_exp = np.log(np.sum(np.exp(shifted)))
        loss += log_sum_exp - shifted[y[i]]  # -log p[y[i]]
        for j in range(num_classes):
            p_j = np.exp(shifted[j] - log_sum_exp)
            if j == y[i]:
                dW[:, j] += (p_j - 1.0) * X[i]
            else:
                dW[:, j] += p_j * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


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
    W = np.asarray(W, dtype=np.float64)  # no copy for float64 input: never write into W or X
    X = np.asarray(X, dtype=np.float64)
    num_train = X.shape[0]
    rows = np.arange(num_train)
    scores = X.dot(W)  # (N, C)
    shifted = scores - np.max(scores, axis=1, keepdims=True)  # per-row shift for stability
    if logsumexp is not None:
        log_probs = shifted - logsumexp(shifted, axis=1, keepdims=True)
    else:
        log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y]) / num_train + reg * np.sum(W * W)

    dscores = np.exp(log_probs)  # probabilities, (N, C)
    dscores[rows, y] -= 1.0  # the pairs (i, y[i]) are all distinct: no update is lost
    dW = X.T.dot(dscores) / num_train + 2 * reg * W
    return float(loss), dW
