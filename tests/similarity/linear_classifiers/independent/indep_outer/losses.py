import numpy as np


def svm_loss_naive(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    L = 0.0
    G = np.zeros((W.shape[0], C))
    for n in range(N):
        scores = np.dot(X[n], W)
        coeff = np.zeros(C)
        for c in range(C):
            m = scores[c] - scores[y[n]] + 1.0
            if c != y[n] and m > 0:
                L += m
                coeff[c] += 1.0
                coeff[y[n]] -= 1.0
        G += np.outer(X[n], coeff)
    L = L / N + reg * np.sum(np.square(W))
    G = G / N + reg * 2 * W
    return L, G


def svm_loss_vectorized(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    Y = np.eye(C)[y]
    scores = np.dot(X, W)
    correct = (scores * Y).sum(axis=1)
    M = np.maximum(scores - correct[:, None] + 1.0, 0) * (Y == 0)
    L = M.sum() / N + reg * np.sum(np.square(W))
    A = (M > 0) * 1.0
    A -= Y * A.sum(axis=1)[:, None]
    G = np.dot(X.T, A) / N + reg * 2 * W
    return L, G


def softmax_loss_naive(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    L = 0.0
    G = np.zeros((W.shape[0], C))
    for n in range(N):
        scores = np.dot(X[n], W)
        top = np.max(scores)
        e = np.exp(scores - top)
        probs = e / np.sum(e)
        L += -np.log(probs[y[n]])
        coeff = probs.copy()
        coeff[y[n]] -= 1.0
        G += np.outer(X[n], coeff)
    L = L / N + reg * np.sum(np.square(W))
    G = G / N + reg * 2 * W
    return L, G


def softmax_loss_vectorized(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    Y = np.eye(C)[y]
    scores = np.dot(X, W)
    scores = scores - np.max(scores, axis=1)[:, None]
    e = np.exp(scores)
    probs = e / np.sum(e, axis=1)[:, None]
    L = -np.sum(Y * (scores - np.log(np.sum(e, axis=1))[:, None])) / N
    L += reg * np.sum(np.square(W))
    G = np.dot(X.T, probs - Y) / N + reg * 2 * W
    return L, G
