"""``python -m rnnkit`` (and ``torchrun ... -m rnnkit train ...``): the ``rnnkit`` command."""

import sys

from .cli import main

sys.exit(main())
