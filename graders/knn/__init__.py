"""Checks of the knn assignment (CS231n assignment 1, k-nearest neighbours)."""
