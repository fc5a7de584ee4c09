"""The ``propgrade`` subcommands, one module each: its parser next to what it runs.

Each module has ``add_parser(sub)``, which adds the subcommand and its options, and
``run(args, out, err) -> int``, which runs it and returns the exit status.
``propgrade.cli`` puts them together. Only these modules and the CLI print.
"""
