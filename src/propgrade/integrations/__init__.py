"""Course tools propgrade grades for: nbgrader, Gradescope, an LMS gradebook, and pytest."""
