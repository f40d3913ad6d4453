"""``python -m log_analytics_engine`` runs the ``log-analytics`` command."""

import sys

from .cli.main import main

sys.exit(main())
