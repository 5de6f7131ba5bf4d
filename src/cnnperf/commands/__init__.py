"""CLI verbs: one module each, `register(subparsers)` + `run(args) -> int`."""
