"""What the cancellation tests share: a cancel fired later from a timer."""

import threading
import time


def cancel_later(cancel, delay):
    """Fires `cancel` after `delay` s on another thread; returns [the
    monotonic time it fired]."""
    fired = []

    def fire():
        fired.append(time.monotonic())
        cancel.cancel()

    threading.Timer(delay, fire).start()
    return fired
