"""``python -m nerve ...`` runs the command line (see nerve/cli.py)."""
from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
