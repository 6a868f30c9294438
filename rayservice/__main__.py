"""``python -m rayservice run ...``: the same as the ``rayservice`` console script."""

import sys

from rayservice.cli import main

sys.exit(main())
