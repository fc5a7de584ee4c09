import numpy as np


def svm_loss_naive(W, X, y, reg):
    count = len(X)
    out = 0.0
    g = np.zeros(W.shape)
    for i in range(count):
        s = np.matmul(X[i], W)
        above = s - s[y[i]] + 1.0
        above[y[i]] = 0.0
        for j in np.nonzero(above > 0)[0]:
            out += above[j]
            g[:, j] += X[i]
            g[:, y[i]] -= X[i]
    return out / count + reg * np.einsum("ij,ij->", W, W), g / count + 2 * reg * W


def svm_loss_vectorized(W, X, y, reg):
    count = len(X)
    s = np.matmul(X, W)
    above = s - s[range(count), y].reshape(count, 1) + 1.0
    above[range(count), y] = 0.0
    above[above < 0] = 0.0
    mask = np.greater(above, 0).astype(float)
    mask[range(count), y] = -mask.sum(axis=1)
    out = above.sum() / count + reg * np.einsum("ij,ij->", W, W)
    return out, np.matmul(X.T, mask) / count + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
    count = len(X)
    out = 0.0
    g = np.zeros(W.shape)
    for i in range(count):
        s = np.matmul(X[i], W)
        s = s - s.max()
        q = np.exp(s)
        q = q / q.sum()
        out += -np.log(q[y[i]])
        q[y[i]] -= 1.0
        for j in range(W.shape[1]):
            g[:, j] += q[j] * X[i]
    return out / count + reg * np.einsum("ij,ij->", W, W), g / count + 2 * reg * W


def lse_0(lse_1, axis=None):
    lse_2 = np.max(lse_1, axis=axis, keepdims=True)
    lse_3 = np.log(np.sum(np.exp(lse_1 - lse_2), axis=axis, keepdims=True)) + lse_2
    return np.squeeze(lse_3, axis=axis)


def softmax_loss_vectorized(W, X, y, reg):
    lse_4 = X.shape[0]
    lse_13 = np.arange(lse_4)
    lse_9 = X.dot(W)
    lse_17 = lse_0(lse_9, axis=1)  # see notes
    lse_6 = np.mean(lse_17 - lse_9[lse_13, y]) + reg * np.sum(W * W)
    lse_19 = np.exp(lse_9 - lse_17[:, np.newaxis])
    lse_19[lse_13, y] -= 1.0
    lse_7 = X.T.dot(lse_19) / lse_4 + 2 * reg * W
    return float(lse_6), lse_7
