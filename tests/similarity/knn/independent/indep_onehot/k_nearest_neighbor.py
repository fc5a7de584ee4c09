"""A k-nearest-neighbour image classifier (CS231n assignment 1).

Conventions shared by every method
----------------------------------
* Training data is an array ``X`` of shape (num_train, D), one example per row, with
  integer labels ``y`` of shape (num_train,), each in 0..C-1.
* Test data is an array ``X`` of shape (num_test, D).
* A distance matrix ``dists`` has shape (num_test, num_train): ``dists[i, j]`` is the
  Euclidean (L2) distance between the i-th test row and the j-th training row, the
  square root of the sum of squared differences of their coordinates.
* Arrays passed in belong to the caller: read them, never write into them. The same
  array may be passed as training and as test data (distances of a set to itself).
* Compute distances with numpy's elementary operations: not with ``np.linalg.norm`` and
  not with scipy. The method's name says how many Python loops it may use.
"""

import numpy as np


class KNearestNeighbor:
    """A kNN classifier with the L2 distance."""

    def __init__(self):
        pass

    def train(self, X, y):
        """Train the classifier: for k-nearest neighbours, that is remembering the data.

        Parameters
        ----------
        X : ndarray of shape (num_train, D)
            The training examples, one per row.
        y : ndarray of shape (num_train,)
            Their labels: y[i] is the label of X[i].
        """
        self.X_train = X
        self.y_train = y

    def predict(self, X, k=1, num_loops=0):
        """Predict a label for every test example.

        Parameters
        ----------
        X : ndarray of shape (num_test, D)
            The test examples, one per row.
        k : int
            How many nearest neighbours vote on each label.
        num_loops : int
            Which distance method to use: 0, 1 or 2 Python loops.

        Returns
        -------
        y : ndarray of shape (num_test,)
            The predicted labels: y[i] is the label predicted for X[i].
        """
        if num_loops == 0:
            dists = self.compute_distances_no_loops(X)
        elif num_loops == 1:
            dists = self.compute_distances_one_loop(X)
        elif num_loops == 2:
            dists = self.compute_distances_two_loops(X)
        else:
            raise ValueError(f"Invalid value {num_loops} for num_loops")

        return self.predict_labels(dists, k=k)

    def compute_distances_two_loops(self, X):
        """The distance between each test row and each training row, with a Python loop
        over the test rows and one nested inside it over the training rows.

        Parameters
        ----------
        X : ndarray of shape (num_test, D)
            The test examples.

        Returns
        -------
        dists : ndarray of shape (num_test, num_train)
            dists[i, j] is the Euclidean distance between X[i] and the j-th training row.
        """
        num_test, num_train = len(X), len(self.X_train)
        dists = np.zeros((num_test, num_train))
        for t in range(num_test):
            for s in range(num_train):
                dists[t, s] = np.sum(np.abs(X[t] - self.X_train[s]) ** 2) ** 0.5
        return dists

    def compute_distances_one_loop(self, X):
        """As compute_distances_two_loops, with a single Python loop over the test rows:
        each test row's distances to all training rows at once.

        Parameters
        ----------
        X : ndarray of shape (num_test, D)
            The test examples.

        Returns
        -------
        dists : ndarray of shape (num_test, num_train)
            dists[i, j] is the Euclidean distance between X[i] and the j-th training row.
        """
        dists = np.zeros((len(X), len(self.X_train)))
        for t in range(len(X)):
            dists[t] = np.power(np.add.reduce(np.power(self.X_train - X[t], 2), axis=1), 0.5)
        return dists

    def compute_distances_no_loops(self, X):
        """As compute_distances_two_loops, with no Python loop at all.

        Whole-array operations only. Hint: expand the squared distance into the squared
        norms of the two rows and their dot product; one matrix product then gives every
        dot product. Keep the memory small: an intermediate array of shape
        (num_test, num_train, D) does not fit in memory at the sizes of the course's data.

        Parameters
        ----------
        X : ndarray of shape (num_test, D)
            The test examples.

        Returns
        -------
        dists : ndarray of shape (num_test, num_train)
            dists[i, j] is the Euclidean distance between X[i] and the j-th training row.
        """
        sq = np.matmul(X, self.X_train.T).astype(np.float64)
        sq *= -2
        sq += np.sum(X * X, axis=1)[:, np.newaxis]
        sq += np.sum(self.X_train * self.X_train, axis=1)
        return np.sqrt(np.fmax(sq, 0))

    def predict_labels(self, dists, k=1):
        """Predict each test example's label from its distances to the training examples.

        The k training examples nearest to a test example vote with their labels, and the
        most common label wins. Ties between labels go to the smallest label.

        Parameters
        ----------
        dists : ndarray of shape (num_test, num_train)
            dists[i, j] is the distance between the i-th test and the j-th training example.
        k : int
            How many nearest neighbours vote.

        Returns
        -------
        y : ndarray of shape (num_test,)
            The predicted labels: y[i] is the label predicted for the i-th test example.
        """
        num_classes = int(np.max(self.y_train)) + 1
        nearest = np.argsort(dists, axis=1)[:, :k]
        onehot = np.eye(num_classes, dtype=np.int64)[self.y_train[nearest]]
        return np.argmax(onehot.sum(axis=1), axis=1)
