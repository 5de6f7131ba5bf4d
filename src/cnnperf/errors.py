"""Exceptions that the CLI turns into one-line messages and exit codes."""


class CnnperfError(Exception):
    """Bad input or environment: the message names the problem and the fix. Exit code 2."""

    exit_code = 2


class DivergenceError(CnnperfError):
    """Training produced NaN or infinite values. Exit code 3."""

    exit_code = 3
