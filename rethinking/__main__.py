"""``python -m rethinking``: the same as the ``rethinking`` command."""

import sys

from rethinking.cli import main

sys.exit(main())
