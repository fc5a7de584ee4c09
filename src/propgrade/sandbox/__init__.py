"""The trust boundary. Everything that starts, confines, talks to and stops the processes
that run student code lives here; nothing outside this package starts one.

The files under ``inside/`` run *inside* the sandbox, next to student code: they import
nothing from propgrade and treat everything they receive as data. Everything else here runs
in the trusted grading process."""
