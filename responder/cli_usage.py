"""The command line's own words: usage mistakes in one line, and the command that creates a
database a read-only command found missing (`responder.cli`, `responder.reports.commands`)."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import NoReturn

from .i18n import t

__all__ = ["EXIT_USAGE", "OneLineParser", "migrate_command"]

EXIT_USAGE = 2  # argparse's own status for a usage mistake

# argparse's own words for the usage mistakes an operator makes most, and the catalogue's for them.
_USAGE_WORDS = (
    (re.compile(r"the following arguments are required: (.+)"), "cli_usage_missing"),
    (re.compile(r"unrecognized arguments: (.+)"), "cli_usage_unrecognized"),
    (re.compile(r"argument (\S+): expected one argument"), "cli_usage_no_value"),
    (re.compile(r"argument (\S+): invalid choice: (.+) \(choose from (.+)\)"), "cli_usage_choice"),
)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage mistakes are one line, as every other error is: what was
    wrong, in the catalogue's words where they are known, and where to read the usage."""

    def error(self, message: str) -> NoReturn:
        """Print the mistake on one line and exit with status 2 (argparse's usage status)."""
        for pattern, key in _USAGE_WORDS:
            found = pattern.fullmatch(message)
            if found is not None:
                what, *rest = found.groups()
                message = t(key, what=what, value=rest[0] if rest else "", choices=rest[-1] if rest else "")
                break
        self.exit(EXIT_USAGE, t("cli_usage", prog=self.prog, error=message) + "\n")


def migrate_command(config: str | None = None, database: str | None = None) -> str:
    """The command that creates the database a read-only command was pointed at: `migrate`,
    with the --config whose `database:` decided it, or the --database given as DATABASE_URL."""
    if database:
        return f"DATABASE_URL={shlex.quote(database)} python main.py migrate"
    return "python main.py migrate" + (f" --config {shlex.quote(config)}" if config else "")
