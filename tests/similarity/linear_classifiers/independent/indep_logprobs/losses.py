"""My solutions. Everything in log space."""

import numpy as np


def svm_loss_naive(W, X, y, reg):
    num = X.shape[0]
    cls = W.shape[1]
    res = 0.0
    d = np.zeros_like(W, dtype=np.float64)
    for a in range(num):
        sc = X[a] @ W
        active = 0
        for b in range(cls):
            if b != y[a] and sc[b] + 1.0 > sc[y[a]]:
                res += sc[b] + 1.0 - sc[y[a]]
                d[:, b] += X[a]
                active += 1
        d[:, y[a]] -= active * X[a]
    res /= num
    d /= num
    res += reg * float(np.sum(W * W))
    d += reg * (W + W)
    return res, d


def svm_loss_vectorized(W, X, y, reg):
    num = X.shape[0]
    sc = X @ W
    right = sc[np.arange(num), y]
    marg = sc - right[:, None] + 1.0
    marg[np.arange(num), y] = 0.0
    on = marg > 0
    res = np.sum(marg * on) / num + reg * float(np.sum(W * W))
    coef = on.astype(np.float64)
    coef[np.arange(num), y] = -on.sum(1)
    d = X.T @ coef / num + reg * (W + W)
    return res, d


def softmax_loss_naive(W, X, y, reg):
    num = X.shape[0]
    res = 0.0
    d = np.zeros_like(W, dtype=np.float64)
    for a in range(num):
        sc = X[a] @ W
        logp = sc - sc.max()
        logp -= np.log(np.exp(logp).sum())
        res -= logp[y[a]]
        p = np.exp(logp)
        for b in range(W.shape[1]):
            d[:, b] += X[a] * (p[b] - 1.0 if b == y[a] else p[b])
    res /= num
    d /= num
    res += reg * float(np.sum(W * W))
    d += reg * (W + W)
    return res, d


def softmax_loss_vectorized(W, X, y, reg):
    num = X.shape[0]
    sc = X @ W
    logp = sc - sc.max(1)[:, None]
    logp -= np.log(np.exp(logp).sum(1))[:, None]
    res = -logp[np.arange(num), y].sum() / num + reg * float(np.sum(W * W))
    p = np.exp(logp)
    p[np.arange(num), y] -= 1.0
    d = X.T @ p / num + reg * (W + W)
    return res, d
