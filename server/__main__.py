"""``python -m openline`` is the ``openline`` command."""

from .cli import entry

entry()
