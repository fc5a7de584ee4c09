"""Broadcast norms, clipped before the square root."""

import numpy as np


class KNearestNeighbor:
    """a kNN classifier with L2 distance"""

    def __init__(self):
        pass

    def train(self, X, y):
        self.X_train = X
        self.y_train = y

    def predict(self, X, k=1, num_loops=0):
        if num_loops == 0:
            dists = self.compute_distances_no_loops(X)
        elif num_loops == 1:
            dists = self.compute_distances_one_loop(X)
        elif num_loops == 2:
            dists = self.compute_distances_two_loops(X)
        else:
            raise ValueError("Invalid value %d for num_loops" % num_loops)
        return self.predict_labels(dists, k=k)

    def compute_distances_two_loops(self, X):
        n, m = X.shape[0], self.X_train.shape[0]
        d = np.zeros((n, m))
        for s in range(n):
            d[s] = [np.sqrt(np.sum(np.square(self.X_train[t, :] - X[s, :]))) for t in range(m)]
        return d

    def compute_distances_one_loop(self, X):
        n = X.shape[0]
        m = self.X_train.shape[0]
        d = np.zeros((n, m))
        for s in range(n):
            d[s, :] = np.sqrt(np.sum((self.X_train - X[s, :]) ** 2, axis=1))
        return d

    def compute_distances_no_loops(self, X):
        sq = (
            np.sum(np.square(X), axis=1)[:, np.newaxis]
            + np.sum(np.square(self.X_train), axis=1)[np.newaxis, :]
            - 2 * np.matmul(X, self.X_train.T)
        )
        return np.sqrt(np.clip(sq, 0, None))

    def predict_labels(self, dists, k=1):
        return np.array(
            [np.argmax(np.bincount(self.y_train[np.argsort(row)[:k]])) for row in dists],
            dtype=float,
        ).reshape(dists.shape[0])
