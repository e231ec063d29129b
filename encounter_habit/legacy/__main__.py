"""Allow `python -m encounter_habit.legacy DUMP...`."""

from __future__ import annotations

import sys

from .importer import main

sys.exit(main())
