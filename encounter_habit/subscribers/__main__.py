"""`python -m encounter_habit.subscribers`: the subscriber commands without invoke."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
