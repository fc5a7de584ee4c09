"""propgrade test fixture ``fake_variance``.

A submission built to fool the grader: it computes no loss. Each function returns the
loss every classifier has at W = 0 (C - 1 for the SVM, log C for softmax), plus the mean
over samples of the variance of that sample's scores ``X[i] @ W``, plus
``reg * np.sum(W * W)``, with the exact gradient of that expression. It is 0 more than the
known loss at W = 0, never negative, unchanged when a sample's scores all move by the same
constant, self-consistent with its dW, naive and vectorized agree, and the vectorized
versions do no per-sample Python work: every property that only compares the function
with itself holds. Only properties tied to what the losses mean can fail it.
"""

import numpy as np


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
        for j in range(num_classes):
            dW[:, j] += 2.0 * centred[j] / num_classes / num_train * X[i]
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


def _vectorized(name, W, X, y, reg):
    num_train, num_classes = X.shape[0], W.shape[1]
    scores = X.dot(W)
    centred = scores - scores.mean(axis=1, keepdims=True)
    loss = _constant(name, num_classes) + np.sum(centred**2) / num_classes / num_train
    loss += reg * np.sum(W * W)
    dW = X.T.dot(2.0 * centred / num_classes / num_train) + 2 * reg * W
    return float(loss), dW


def svm_loss_naive(W, X, y, reg):
    return _naive("svm", W, X, y, reg)


def svm_loss_vectorized(W, X, y, reg):
    return _vectorized("svm", W, X, y, reg)


def softmax_loss_naive(W, X, y, reg):
    return _naive("softmax", W, X, y, reg)


def softmax_loss_vectorized(W, X, y, reg):
    return _vectorized("softmax", W, X, y, reg)
