"""Property checks for the linear-classifier losses (multiclass SVM and softmax)."""
