"""What the page's background processes share: how they are switched off, and how they
end with the worker that started them.

The warm-up (:mod:`.warmup`) and the forecast's companion (:mod:`.forecast_process`) are
both started by a gunicorn worker, both switched by an environment variable, and neither
may outlive its worker, even one killed outright (no atexit, no signal to its group).
"""

from __future__ import annotations

import os
import time


def switched_on(variable: str) -> bool:
    """``$variable``: on unless it says 0, no, off or false (absent: on)."""
    value = os.environ.get(variable, "1").strip().lower()
    return value not in ("0", "no", "off", "false")


def exit_with_parent(parent: int) -> None:
    """Exit this process as soon as ``parent`` is no longer its parent (run in a daemon
    thread: it polls twice a second and never returns otherwise)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)
