"""``propgrade selftest``: how strong an assignment's checks are, measured on mutants and
do-nothing baselines of the reference solution."""
