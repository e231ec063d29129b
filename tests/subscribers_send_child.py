"""Run one send in a child process so a test can SIGKILL it: argv[1] is JSON {root, overrides, slug}."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from encounter_habit.subscribers.sender import send_issue
from encounter_habit.subscribers.settings import load_settings

if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    settings = load_settings(Path(job["root"]) / "pelicanconf.py", job["overrides"])
    summary = send_issue(settings, job["slug"], progress=False)
    print(summary.line(), flush=True)
