import numpy as np

DELTA = 1.0


def svm_loss_naive(W, X, y, reg):
    dW = np.zeros(W.shape)
    loss = 0.0
    for x_i, y_i in zip(X, y):
        f = x_i.dot(W)
        for k, f_k in enumerate(f):
            if k == y_i:
                continue
            hinge = f_k - f[y_i] + DELTA
            if hinge > 0.0:
                loss += hinge
                dW[:, k] += x_i
                dW[:, y_i] -= x_i
    N = len(y)
    return loss / N + reg * np.vdot(W, W), dW / N + 2 * reg * W


def svm_loss_vectorized(W, X, y, reg):
    N = len(y)
    f = X.dot(W)
    f_y = np.take_along_axis(f, y[:, None], axis=1)
    hinge = np.clip(f - f_y + DELTA, 0.0, None)
    np.put_along_axis(hinge, y[:, None], 0.0, axis=1)
    loss = hinge.sum() / N + reg * np.vdot(W, W)
    g = np.sign(hinge)
    np.put_along_axis(g, y[:, None], -g.sum(axis=1, keepdims=True), axis=1)
    return loss, X.T.dot(g) / N + 2 * reg * W


def softmax_loss_naive(W, X, y, reg):
    dW = np.zeros(W.shape)
    loss = 0.0
    for x_i, y_i in zip(X, y):
        f = x_i.dot(W)
        f -= f.max()
        p = np.exp(f) / np.exp(f).sum()
        loss -= np.log(p[y_i])
        for k in range(len(p)):
            dW[:, k] += (p[k] - (k == y_i)) * x_i
    N = len(y)
    return loss / N + reg * np.vdot(W, W), dW / N + 2 * reg * W


def softmax_loss_vectorized(W, X, y, reg):
    N = len(y)
    f = X.dot(W)
    f -= f.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(f).sum(axis=1, keepdims=True))
    log_p = f - log_norm
    loss = -np.take_along_axis(log_p, y[:, None], axis=1).mean() + reg * np.vdot(W, W)
    g = np.exp(log_p)
    np.put_along_axis(g, y[:, None], np.take_along_axis(g, y[:, None], axis=1) - 1.0, axis=1)
    return loss, X.T.dot(g) / N + 2 * reg * W
