"""``python -m engagequal``."""

import sys

from engagequal.cli import main

sys.exit(main())
