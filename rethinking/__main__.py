"""``python -m rethinking``: the same as the ``rethinking`` command."""

import sys

from rethinking.cli import main

if __name__ == "__main__":  # not when a spawned child process imports this module
    sys.exit(main())
