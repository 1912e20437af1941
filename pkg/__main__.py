"""``python -m taskalloc`` runs the command-line interface."""

from taskalloc.cli.app import main

if __name__ == "__main__":
    main()
