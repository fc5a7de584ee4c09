"""UNTRUSTED SIDE: these files run inside the sandbox, in the same process as student code.

They are started as scripts (``python -I -B worker_main.py``), never imported by the
trusted process, and use only the standard library and numpy."""
