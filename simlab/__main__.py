"""``python -m simlab ...`` is the ``simlab`` command (see :mod:`simlab.teacher.cli`)."""

import sys

from .teacher.cli import main

sys.exit(main())
