"""Entry point: `python main.py <command>`; see `python main.py --help`."""

from responder.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
