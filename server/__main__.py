"""``python -m server`` is the ``openline`` command."""

from .cli import entry

entry()
