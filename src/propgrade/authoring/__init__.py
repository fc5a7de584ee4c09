"""What an instructor runs to make an assignment: the student release."""
