"""Sphinx configuration of propgrade's API reference (built by tests/test_api_docs.py).

Build it with ``python -m sphinx -W --keep-going -b html docs/api OUT`` from a checkout
where propgrade is installed. Every cross-reference must resolve (``nitpicky``), so a
docstring that names a function that does not exist fails the build.
"""

from __future__ import annotations

import propgrade

project = "propgrade"
author = "the propgrade authors"
copyright = "the propgrade authors"
version = release = propgrade.__version__

extensions = ["sphinx.ext.autodoc"]

nitpicky = True
# Types from numpy, Hypothesis and the standard library are named in signatures but have
# no page here (no intersphinx: the build must work without network).
nitpick_ignore_regex = [
    ("py:class", r"(numpy|np|npt|hypothesis|collections|typing|types)\..*"),
    ("py:class", r"(Any|Value|Property|Callable|Sequence|Mapping|SearchStrategy|DTypeLike)"),
    ("py:class", r"(FloatArray|Array|NDArray|T)"),
]
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
add_module_names = False

html_theme = "alabaster"
html_title = f"propgrade {release}: API reference"
exclude_patterns = ["_build"]
