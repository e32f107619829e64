"""``python -m simlab ...`` is the ``simlab`` command: fetch, list, student (see :mod:`simlab.cli`)."""

import sys

from .cli import main

sys.exit(main())
