"""The `cnnperf` command: one entry point, verb subcommands.

Each verb lives in `cnnperf.commands.<verb>` with `register(subparsers)` and a testable
`run(args) -> int`. Command modules import heavy packages (Numba, the engine) inside
`run`, so `cnnperf --help` and `--version` compile nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cnnperf import __version__
from cnnperf.errors import CnnperfError

# verb -> module; the order is the order of `cnnperf --help`.
COMMANDS = {
    "train": "cnnperf.commands.train",
    "predict": "cnnperf.commands.predict",
    "reproduce": "cnnperf.commands.reproduce",
    "count": "cnnperf.commands.count",
    "profile": "cnnperf.commands.profile",
    "calibrate": "cnnperf.commands.calibrate",
    "validate": "cnnperf.commands.validate",
    "export": "cnnperf.commands.export",
    "nets": "cnnperf.commands.nets",
}


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (names the problem and where to look), exit code 2."""

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="cnnperf",
        description="Train CNNs in parallel on many-core CPUs (CHAOS) and predict how long training takes.",
    )
    parser.add_argument("--version", action="version", version=f"cnnperf {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module in COMMANDS.values():
        importlib.import_module(module).register(sub)
    return parser


def quiet_interrupted_finaliser(unraisable) -> None:
    """`sys.unraisablehook`: drop the one error llvmlite's `ObjectRef.__del__` raises (AttributeError)
    when a Ctrl-C cut a Numba compile off between creating an LLVM object and setting its pointer;
    it would print a traceback after "interrupted". Every other unraisable error goes on as before."""
    if unraisable.exc_type is AttributeError and getattr(unraisable.object, "__qualname__", "") == "ObjectRef.__del__":
        return
    sys.__unraisablehook__(unraisable)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except CnnperfError as exc:
        print(f"cnnperf {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"cnnperf {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


def entry_point() -> int:
    """The `cnnperf` program (console script, `python -m cnnperf`): `main` on sys.argv, with the
    process-wide `quiet_interrupted_finaliser` hook installed first (`main` itself, as tests and
    other programs call it, leaves the interpreter's hooks alone)."""
    sys.unraisablehook = quiet_interrupted_finaliser
    return main()


if __name__ == "__main__":
    raise SystemExit(entry_point())
