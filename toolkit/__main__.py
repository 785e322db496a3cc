"""``python -m toolkit`` runs the ducha command line."""

from .cli import entry

if __name__ == "__main__":
    entry()
