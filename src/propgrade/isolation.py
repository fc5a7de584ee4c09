"""The names of the isolation layers, as every result records them (``meta["sandbox"]``).

They live outside ``propgrade.sandbox`` so that code which only reads results (the reports)
can tell the layers apart without importing the trust boundary itself.
"""

from __future__ import annotations

FULL = "full"  # bubblewrap namespaces, an unprivileged uid, seccomp
REDUCED = "reduced"  # a separate process with rlimits: no barrier to file reads or the network

# What a layer does not stop, for the layers that leave a gap a report should point out.
GAPS: dict[str, str] = {
    REDUCED: "does not stop student code from reading files (solutions, graders) or using "
    "the network (install bubblewrap and grade as root for the full layer)",
}
