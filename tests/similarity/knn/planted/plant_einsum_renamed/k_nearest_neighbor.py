import numpy as np


class KNearestNeighbor:
    # nearest neighbour classifier (euclidean)
    def __init__(self):
        pass

    def train(self, X, y):
        self.X_train = X
        self.y_train = y

    def predict(self, X, k=1, num_loops=0):
        if num_loops == 0:
            out = self.compute_distances_no_loops(X)
        elif num_loops == 1:
            out = self.compute_distances_one_loop(X)
        elif num_loops == 2:
            out = self.compute_distances_two_loops(X)
        else:
            raise ValueError("num_loops must be 0, 1 or 2, got %d" % num_loops)
        return self.predict_labels(out, k=k)

    def compute_distances_two_loops(self, X):
        out = np.zeros((X.shape[0], self.X_train.shape[0]))
        for r in range(X.shape[0]):
            for c in range(self.X_train.shape[0]):
                delta = X[r] - self.X_train[c]
                out[r, c] = np.sqrt(np.einsum("a,a->", delta, delta))  # squared length
        return out

    def compute_distances_one_loop(self, X):
        out = np.zeros((X.shape[0], self.X_train.shape[0]))
        for r in range(X.shape[0]):
            delta = self.X_train - X[r]
            out[r] = np.sqrt(np.einsum("ab,ab->a", delta, delta))
        return out

    def compute_distances_no_loops(self, X):
        p = np.einsum("ab,ab->a", X, X)[:, None]
        q = np.einsum("ab,ab->a", self.X_train, self.X_train)[None, :]
        pq = np.einsum("ab,cb->ac", X, self.X_train)
        return np.sqrt(np.maximum(p + q - 2 * pq, 0.0))  # clip tiny negatives

    def predict_labels(self, dists, k=1):
        rows = dists.shape[0]
        guess = np.zeros(rows)
        for r in range(rows):
            near = self.y_train[np.argsort(dists[r])[:k]]
            guess[r] = np.argmax(np.bincount(near))
        return guess
