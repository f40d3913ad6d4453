"""Helpers shared by the tests that run the command line in a child process."""

from __future__ import annotations

import signal


def interruptible() -> None:
    """``preexec_fn`` of a child that the test stops with SIGINT (Ctrl+C): a shell starts
    background jobs with SIGINT ignored, and a child inherits that, so a suite run from such a
    job would see commands that never stop. The child gets the default disposition back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
