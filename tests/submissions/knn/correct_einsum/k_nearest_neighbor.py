"""Distances with np.einsum in every version; the vote by bincount."""

import numpy as np


class KNearestNeighbor:
    """ a kNN classifier with L2 distance """

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
        dists = np.zeros((X.shape[0], self.X_train.shape[0]))
        for i in range(X.shape[0]):
            for j in range(self.X_train.shape[0]):
                diff = X[i] - self.X_train[j]
                dists[i, j] = np.sqrt(np.einsum("i,i->", diff, diff))
        return dists

    def compute_distances_one_loop(self, X):
        dists = np.zeros((X.shape[0], self.X_train.shape[0]))
        for i in range(X.shape[0]):
            diff = self.X_train - X[i]
            dists[i] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
        return dists

    def compute_distances_no_loops(self, X):
        a = np.einsum("ij,ij->i", X, X)[:, None]
        b = np.einsum("ij,ij->i", self.X_train, self.X_train)[None, :]
        ab = np.einsum("ij,kj->ik", X, self.X_train)
        return np.sqrt(np.maximum(a + b - 2 * ab, 0.0))

    def predict_labels(self, dists, k=1):
        num_test = dists.shape[0]
        y_pred = np.zeros(num_test)
        for i in range(num_test):
            closest_y = self.y_train[np.argsort(dists[i])[:k]]
            y_pred[i] = np.argmax(np.bincount(closest_y))
        return y_pred
