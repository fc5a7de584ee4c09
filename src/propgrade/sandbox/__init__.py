"""The trust boundary. Everything that starts, confines, talks to and stops the processes
that run student code lives here; nothing outside this package starts one.

Trusted side (runs in the grading process):

- ``worker.py``: the client: start a worker, send calls, read replies, enforce time limits;
- ``wire.py``: framing and the value codec, which decodes what a hostile process wrote;
- ``calls.py``: the data that crosses the boundary (calls, outcomes, limits);
- ``layers.py``: what an isolation layer is and how it starts a worker (exec or zygote);
  ``bwrap_layer.py`` (full) and ``process_layer.py`` (reduced) are the two layers, and
  ``layer_choice.py`` picks one and probes whether the full one works here;
- ``view.py``: which host directories the full layer's sandbox sees;
- ``uid_slots.py``: one unprivileged uid per live worker on the host;
- ``processes.py``: finding and killing a uid's processes through /proc, pid-reuse safe;
- ``seccomp.py``: the syscall filter, a second wall behind namespaces and the uid;
- ``limits.py``: rlimits and the environment every worker gets;
- ``zygote.py``: the fork server's trusted end; ``scratch.py``: scratch folders.

UNTRUSTED side: the files under ``inside/`` run *inside* the sandbox, in the same process
as student code. They import nothing from propgrade and treat everything they receive as
data; the trusted side never imports them.
"""
