"""Linear classifier losses: while loops and boolean masks."""

import numpy as np


def svm_loss_naive(W, X, y, reg):
    n_samples = X.shape[0]
    n_cls = W.shape[1]
    total = 0.0
    grad = np.zeros_like(W, dtype=float)
    idx = 0
    while idx < n_samples:
        row = X[idx]
        s = row @ W
        target = y[idx]
        c = 0
        while c < n_cls:
            if c != target:
                gap = s[c] - s[target] + 1
                if gap > 0:
                    total = total + gap
                    grad[:, c] = grad[:, c] + row
                    grad[:, target] = grad[:, target] - row
            c += 1
        idx += 1
    total = total / n_samples + reg * (W**2).sum()
    grad = grad / n_samples + 2.0 * reg * W
    return total, grad


def svm_loss_vectorized(W, X, y, reg):
    n_samples = X.shape[0]
    s = X @ W
    is_target = np.zeros(s.shape, dtype=bool)
    is_target[np.arange(n_samples), y] = True
    true_scores = s[is_target].reshape(-1, 1)
    gaps = np.where(is_target, 0.0, s - true_scores + 1)
    positive = gaps > 0
    total = gaps[positive].sum() / n_samples + reg * (W**2).sum()
    weights = positive.astype(float)
    weights[is_target] = -positive.sum(axis=1)
    grad = X.T @ weights / n_samples + 2.0 * reg * W
    return total, grad


def softmax_loss_naive(W, X, y, reg):
    n_samples = X.shape[0]
    n_cls = W.shape[1]
    total = 0.0
    grad = np.zeros_like(W, dtype=float)
    idx = 0
    while idx < n_samples:
        row = X[idx]
        s = row @ W
        s = s - s.max()
        e = np.exp(s)
        z = e.sum()
        total += np.log(z) - s[y[idx]]
        c = 0
        while c < n_cls:
            share = e[c] / z
            if c == y[idx]:
                share -= 1
            grad[:, c] += share * row
            c += 1
        idx += 1
    total = total / n_samples + reg * (W**2).sum()
    grad = grad / n_samples + 2.0 * reg * W
    return total, grad


def softmax_loss_vectorized(W, X, y, reg):
    n_samples = X.shape[0]
    s = X @ W
    s = s - s.max(axis=1).reshape(-1, 1)
    e = np.exp(s)
    z = e.sum(axis=1)
    is_target = np.zeros(s.shape, dtype=bool)
    is_target[np.arange(n_samples), y] = True
    total = (np.log(z) - s[is_target]).sum() / n_samples + reg * (W**2).sum()
    p = e / z.reshape(-1, 1)
    p[is_target] -= 1
    grad = X.T @ p / n_samples + 2.0 * reg * W
    return total, grad
