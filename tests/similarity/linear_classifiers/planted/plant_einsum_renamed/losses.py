import numpy as np


def svm_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    v_0 = X.shape[0]
    v_1 = W.shape[1]
    v_2 = 0.0
    v_3 = np.zeros(W.shape, dtype=np.float64)
    for v_4 in range(v_0):
        v_5 = X[v_4].dot(W)
        v_6 = v_5[y[v_4]]
        for v_7 in range(v_1):
            if v_7 == y[v_4]:
                continue
            v_8 = v_5[v_7] - v_6 + 1.0  # see not
            if v_8 > 0:
                v_2 += v_8
                v_3[:, v_7] += X[v_4]
                v_3[:, y[v_4]] -= X[v_4]
    v_2 /= v_0
    v_3 /= v_0
    v_2 += reg * np.sum(W * W)
    v_3 += 2 * reg * W
    return float(v_2), v_3


def svm_loss_vectorized(W, X, y, reg):
    v_0 = X.shape[0]
    v_9 = np.arange(v_0)
    v_5 = np.einsum("nd,dc->nc", X, W)
    v_10 = np.maximum(0.0, v_5 - v_5[v_9, y][:, np.newaxis] + 1.0)
    v_10[v_9, y] = 0.0
    v_2 = np.einsum("nc->", v_10) / v_0 + reg * np.einsum("dc,dc->", W, W)
    v_11 = (v_10 > 0).astype(np.float64)
    v_11[v_9, y] = -np.einsum("nc->n", v_11)
    v_3 = np.einsum("nd,nc->dc", X, v_11) / v_0 + 2 * reg * W
    return float(v_2), v_3


def softmax_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    v_0 = X.shape[0]
    v_1 = W.shape[1]
    v_2 = 0.0
    v_3 = np.zeros(W.shape, dtype=np.float64)
    for v_4 in range(v_0):
        v_5 = X[v_4].dot(W)
        v_12 = v_5 - np.max(v_5)  # see not
        v_13 = np.log(np.sum(np.exp(v_12)))
        v_2 += v_13 - v_12[y[v_4]]  # see
        for v_7 in range(v_1):
            v_14 = np.exp(v_12[v_7] - v_13)
            if v_7 == y[v_4]:
                v_3[:, v_7] += (v_14 - 1.0) * X[v_4]
            else:
                v_3[:, v_7] += v_14 * X[v_4]
    v_2 /= v_0
    v_3 /= v_0
    v_2 += reg * np.sum(W * W)
    v_3 += 2 * reg * W
    return float(v_2), v_3


def softmax_loss_vectorized(W, X, y, reg):
    v_0 = X.shape[0]
    v_9 = np.arange(v_0)
    v_5 = np.einsum("nd,dc->nc", X, W)
    v_5 = v_5 - v_5.max(axis=1, keepdims=True)
    v_15 = np.exp(v_5)
    v_16 = np.einsum("nc->n", v_15)
    v_2 = np.einsum("n->", np.log(v_16) - v_5[v_9, y]) / v_0
    v_2 += reg * np.einsum("dc,dc->", W, W)
    v_11 = v_15 / v_16[:, np.newaxis]
    v_11[v_9, y] -= 1.0
    v_3 = np.einsum("nd,nc->dc", X, v_11) / v_0 + 2 * reg * W
    return float(v_2), v_3
