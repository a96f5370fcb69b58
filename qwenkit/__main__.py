"""`python -m qwenkit` runs the CLI."""

from .cli import main

main()
