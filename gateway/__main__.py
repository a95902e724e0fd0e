"""``python -m gateway``: the ``intake-gateway`` command where the script is not on PATH."""

import sys

from gateway.cli import main

sys.exit(main())
