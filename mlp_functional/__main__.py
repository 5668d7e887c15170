"""``python -m mlp_functional``: the same as the ``mlp-functional`` command."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
