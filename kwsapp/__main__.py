"""``python -m kwsapp``: same as the ``kwsapp`` console script."""

import sys

from kwsapp.cli import main

sys.exit(main())
