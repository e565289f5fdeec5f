"""``python -m mdkoop`` is the same as the ``mdkoop`` command."""

import sys

from .cli.main import main

sys.exit(main())
