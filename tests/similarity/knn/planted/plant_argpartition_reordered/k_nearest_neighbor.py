"""kNN with argpartition for the k nearest."""

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
        n_train = self.X_train.shape[0]
        n_test = X.shape[0]
        d = np.zeros((n_test, n_train))
        for a in range(n_test):
            for b in range(n_train):
                d[a, b] = np.sqrt(np.sum((X[a] - self.X_train[b]) ** 2))
        return d

    def compute_distances_one_loop(self, X):
        n_train = self.X_train.shape[0]
        n_test = X.shape[0]
        d = np.zeros((n_test, n_train))
        for a in range(n_test):
            d[a, :] = np.sqrt(np.sum((self.X_train - X[a, :]) ** 2, axis=1))
        return d

    def compute_distances_no_loops(self, X):
        tr = np.sum(self.X_train**2, axis=1)
        te = np.sum(X**2, axis=1).reshape(-1, 1)
        sq = te + tr - 2 * X.dot(self.X_train.T)
        d = np.sqrt(np.maximum(sq, 0))
        return d

    def predict_labels(self, dists, k=1):
        n_test = dists.shape[0]
        out = np.zeros(n_test, dtype=int)
        for a in range(n_test):
            if k >= dists.shape[1]:
                idx = np.arange(dists.shape[1])
            else:
                idx = np.argpartition(dists[a], k - 1)[:k]
            labels = self.y_train[idx]
            out[a] = np.bincount(labels).argmax()
        return out
