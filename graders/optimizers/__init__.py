"""Checks of the optimizers assignment (CS231n assignment 2 update rules)."""
