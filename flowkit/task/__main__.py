"""``python -m flowkit.task --run-id ID --step S ...``: run one task (see `flowkit.task.cli`)."""

import sys

from flowkit.task.cli import main

sys.exit(main())
