"""``python -m gateway.cli``: the ``intake-gateway`` command without the installed script."""

import sys

from gateway.cli.commands import main

sys.exit(main())
