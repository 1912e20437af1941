"""``python -m taskalloc`` runs the command-line interface."""

from taskalloc.cli import main

if __name__ == "__main__":
    main()
