import numpy as np


def svm_loss_naive(W, X, y, reg):
    q0 = X.shape[0]
    q1 = W.shape[1]
    # see no
    q2 = np.array([X[q3].dot(W) for q3 in range(q0)])
    q4 = 0.0
    q5 = np.zeros(W.shape)
    for q6 in range(q1):
        for q3 in range(q0):
            if q6 == y[q3]:
                continue
            q7 = q2[q3, q6] - q2[q3, y[q3]] + 1.0
            if q7 > 0:
                q4 += q7
                q5[:, q6] += X[q3]
                q5[:, y[q3]] -= X[q3]
    q4 /= q0
    q5 /= q0
    q4 += reg * np.sum(W * W)
    q5 += 2 * reg * W
    return float(q4), q5


def svm_loss_vectorized(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    q0 = X.shape[0]
    q8 = np.arange(q0)
    q2 = X.dot(W)  # see
    q9 = q2[q8, y][:, np.newaxis]  # see
    q10 = np.maximum(0.0, q2 - q9 + 1.0)  # see not
    q10[q8, y] = 0.0  # see n
    q4 = np.sum(q10) / q0 + reg * np.sum(W * W)

    # see not
    # see notes
    q11 = (q10 > 0).astype(np.float64)  # see
    q11[q8, y] = -np.sum(q11, axis=1)
    q5 = X.T.dot(q11) / q0 + 2 * reg * W
    return float(q4), q5


def softmax_loss_naive(W, X, y, reg):
    q0 = X.shape[0]
    q1 = W.shape[1]
    q4 = 0.0
    q12 = np.zeros((q0, q1))
    for q3 in range(q0):
        q2 = X[q3].dot(W)
        q2 = q2 - np.max(q2)
        q13 = np.exp(q2)
        q12[q3] = q13 / np.sum(q13)
        q4 += np.log(np.sum(q13)) - q2[y[q3]]
    # see
    q5 = np.zeros_like(W)
    for q6 in range(q1):
        q5[:, q6] = sum((q12[q3, q6] - (1.0 if y[q3] == q6 else 0.0)) * X[q3] for q3 in range(q0))
    q4 /= q0
    q5 /= q0
    q4 += reg * np.sum(W * W)
    q5 += 2 * reg * W
    return float(q4), q5


def softmax_loss_vectorized(W, X, y, reg):
    W = np.asarray(W, dtype=np.float64)  # see no
    X = np.asarray(X, dtype=np.float64)
    q0 = X.shape[0]
    q8 = np.arange(q0)
    q2 = X.dot(W)  # see
    q15 = q2 - np.max(q2, axis=1, keepdims=True)  # see
    q16 = q15 - np.log(np.sum(np.exp(q15), axis=1, keepdims=True))
    q4 = -np.sum(q16[q8, y]) / q0 + reg * np.sum(W * W)

    q17 = np.exp(q16)  # see n
    q17[q8, y] -= 1.0  # see
    q5 = X.T.dot(q17) / q0 + 2 * reg * W
    return float(q4), q5
