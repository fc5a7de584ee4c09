"""The k nearest found with np.argpartition instead of a full sort."""

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
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train))
        for i in range(num_test):
            for j in range(num_train):
                dists[i, j] = np.sqrt(np.sum((X[i] - self.X_train[j]) ** 2))
        return dists

    def compute_distances_one_loop(self, X):
        num_test = X.shape[0]
        num_train = self.X_train.shape[0]
        dists = np.zeros((num_test, num_train))
        for i in range(num_test):
            dists[i, :] = np.sqrt(np.sum((self.X_train - X[i, :]) ** 2, axis=1))
        return dists

    def compute_distances_no_loops(self, X):
        test_sq = np.sum(X ** 2, axis=1).reshape(-1, 1)
        train_sq = np.sum(self.X_train ** 2, axis=1)
        squared = test_sq + train_sq - 2 * X.dot(self.X_train.T)
        dists = np.sqrt(np.maximum(squared, 0))
        return dists

    def predict_labels(self, dists, k=1):
        num_test = dists.shape[0]
        y_pred = np.zeros(num_test, dtype=int)
        for i in range(num_test):
            if k < dists.shape[1]:
                nearest = np.argpartition(dists[i], k - 1)[:k]
            else:
                nearest = np.arange(dists.shape[1])
            closest_y = self.y_train[nearest]
            y_pred[i] = np.bincount(closest_y).argmax()
        return y_pred
