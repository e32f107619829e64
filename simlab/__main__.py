"""``python -m simlab fetch [NAME ...]`` fetches weight files; ``python -m simlab list`` lists them."""

import sys

from .weights import main

sys.exit(main(sys.argv[1:]))
