"""`python3 -m tr069client`: the command line."""

import sys

from .cli import main

sys.exit(main())
