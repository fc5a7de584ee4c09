"""propgrade test fixture ``fake_variance_label_aware``.

The variance fake (``fake_variance``) made to look at the labels: to the known loss at
W = 0 and the mean per-sample variance of the scores it adds ``0.01 * (s[y[i]] - mean(s))**2``
per sample, with the exact gradient. The loss now changes when the labels do, it is still
0 more than the known value at W = 0, never negative, unchanged when a sample's scores all
move by the same constant, and self-consistent. It is still no loss: it grows with the
spread of the scores, so along any one score it has a minimum in the middle, where a real
loss only ever rises as a wrong class gains on the correct one.
"""

import numpy as np

LABEL_WEIGHT = 0.01


def _constant(name, num_classes):
    return float(num_classes - 1) if name == "svm" else float(np.log(num_classes))


def _naive(name, W, X, y, reg):
    num_train, num_classes = X.shape[0], W.shape[1]
    loss = _constant(name, num_classes)
    dW = np.zeros(W.shape)
    for i in range(num_train):
        scores = X[i].dot(W)
        centred = scores - scores.mean()
        loss += np.sum(centred**2) / num_classes / num_train
        loss += LABEL_WEIGHT * centred[y[i]] ** 2 / num_train
        for j in range(num_classes):
            dW[:, j] += 2.0 * centred[j] / num_classes / num_train * X[i]
            # d centred[y] / d scores[j] = [j == y] - 1 / C
            share = (1.0 if j == y[i] else 0.0) - 1.0 / num_classes
            dW[:, j] += 2.0 * LABEL_WEIGHT * centred[y[i]] * share / num_train * X[i]
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


def _vectorized(name, W, X, y, reg):
    num_train, num_classes = X.shape[0], W.shape[1]
    rows = np.arange(num_train)
    scores = X.dot(W)
    centred = scores - scores.mean(axis=1, keepdims=True)
    at_label = centred[rows, y]
    loss = _constant(name, num_classes) + np.sum(centred**2) / num_classes / num_train
    loss += LABEL_WEIGHT * np.sum(at_label**2) / num_train
    loss += reg * np.sum(W * W)
    share = -np.ones_like(scores) / num_classes
    share[rows, y] += 1.0
    dscores = 2.0 * centred / num_classes + 2.0 * LABEL_WEIGHT * at_label[:, None] * share
    dW = X.T.dot(dscores / num_train) + 2 * reg * W
    return float(loss), dW


def svm_loss_naive(W, X, y, reg):
    return _naive("svm", W, X, y, reg)


def svm_loss_vectorized(W, X, y, reg):
    return _vectorized("svm", W, X, y, reg)


def softmax_loss_naive(W, X, y, reg):
    return _naive("softmax", W, X, y, reg)


def softmax_loss_vectorized(W, X, y, reg):
    return _vectorized("softmax", W, X, y, reg)
