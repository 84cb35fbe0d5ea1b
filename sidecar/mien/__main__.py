"""`python -m mien` = the `mien` command."""

import sys

from .cli import main

sys.exit(main())
