"""``python -m agentracer.cli``: the same as the ``agentracer`` command."""

from . import main

main()
