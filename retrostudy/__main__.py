"""``python -m retrostudy`` runs the command-line interface."""
import sys

from .cli import main

if __name__ == "__main__":  # importing this module (doctest collection, tools) does not run the CLI
    sys.exit(main())
