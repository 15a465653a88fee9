"""``python -m kwsapp``: same as the ``kwsapp`` console script."""

from kwsapp.cli import run

run()
