import numpy as np


def svm_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    t0 = X.shape[0]
    t1 = W.shape[1]
    t2 = 0.0
    t3 = np.zeros(W.shape, dtype=np.float64)
    for t4 in range(t0):
        t5 = X[t4].dot(W)
        t6 = t5[y[t4]]
        for t7 in range(t1):
            if t7 == y[t4]:
                continue
            t8 = t5[t7] - t6 + 1.0  # see not
            if t8 > 0:
                t2 += t8
                t3[:, t7] += X[t4]
                t3[:, y[t4]] -= X[t4]
    t2 /= t0
    t3 /= t0
    t2 += reg * np.sum(W * W)
    t3 += 2 * reg * W
    return float(t2), t3


def svm_loss_vectorized(W, X, y, reg):
    t0, t1 = X.shape[0], W.shape[1]
    t5 = X.dot(W)
    t9 = (y[:, np.newaxis] == np.arange(t1)).astype(np.float64)
    t10 = np.sum(t5 * t9, axis=1, keepdims=True)
    t11 = np.maximum(0.0, t5 - t10 + 1.0) * (1.0 - t9)
    t12 = (t11 > 0).astype(np.float64)
    t13 = t12 - t9 * np.sum(t12, axis=1, keepdims=True)
    t3 = X.T.dot(t13) / t0 + 2 * reg * W
    t2 = np.sum(t11) / t0 + reg * np.sum(W * W)
    return float(t2), t3


def softmax_loss_naive(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    t0 = X.shape[0]
    t1 = W.shape[1]
    t2 = 0.0
    t3 = np.zeros(W.shape, dtype=np.float64)
    for t4 in range(t0):
        t5 = X[t4].dot(W)
        t14 = t5 - np.max(t5)  # see not
        t15 = np.log(np.sum(np.exp(t14)))
        t2 += t15 - t14[y[t4]]  # see
        for t7 in range(t1):
            t16 = np.exp(t14[t7] - t15)
            if t7 == y[t4]:
                t3[:, t7] += (t16 - 1.0) * X[t4]
            else:
                t3[:, t7] += t16 * X[t4]
    t2 /= t0
    t3 /= t0
    t2 += reg * np.sum(W * W)
    t3 += 2 * reg * W
    return float(t2), t3


def softmax_loss_vectorized(W, X, y, reg):
    t0, t1 = X.shape[0], W.shape[1]
    t9 = (y[:, np.newaxis] == np.arange(t1)).astype(np.float64)  # see
    t5 = X.dot(W)
    t5 = t5 - np.max(t5, axis=1, keepdims=True)
    t17 = np.exp(t5)
    t18 = np.sum(t17, axis=1, keepdims=True)
    t20 = t5 - np.log(t18)
    t19 = t17 / t18
    t3 = X.T.dot(t19 - t9) / t0 + 2 * reg * W
    t2 = -np.sum(t9 * t20) / t0 + reg * np.sum(W * W)
    return float(t2), t3
