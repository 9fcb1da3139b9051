"""`python -m yurudb` runs the command line."""

from .cli import main

main()
