"""``propgrade similarity``: which submissions share code that few others wrote the same way.

tokens.py        student source -> normalised token streams (``ast`` only, nothing run)
fingerprints.py  winnowed k-gram fingerprints (MOSS's method)
sources.py       the class through the grading intake, the known sources, the stub
compare.py       rarity weights, the inverted index, pair scores
run.py           the command: OUT/similarity.html and OUT/similarity.csv
"""

from __future__ import annotations

# ``compare`` (the function) stays in its module: re-exported here it would shadow the
# module ``propgrade.similarity.compare`` as an attribute of the package.
from propgrade.similarity.compare import THRESHOLD, Comparison, Pair
from propgrade.similarity.run import SimilarityReport, run_similarity

__all__ = ["THRESHOLD", "Comparison", "Pair", "SimilarityReport", "run_similarity"]
