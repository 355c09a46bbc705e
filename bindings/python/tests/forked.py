"""A function run in a forked child of the test process, for the fork tests
(test_fork.py, test_events.py)."""

import json
import os
import select
import signal
import traceback


class Forked:
    """Forks now; the child runs `work()`, sends back what it returns (as
    JSON) through a pipe and leaves with os._exit, without pytest's
    clean-up. The parent goes on, then calls `result()`."""

    def __init__(self, work):
        read, write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            status = 1
            try:
                os.close(read)
                os.write(write, json.dumps(work()).encode())
                status = 0
            except BaseException:  # noqa: BLE001 - shown, then the child fails
                traceback.print_exc()
            finally:
                os._exit(status)
        os.close(write)
        self._read = read

    def result(self, timeout=120):
        """(what `work` returned, None when it failed; the child's exit
        code). A child that sends nothing within `timeout` seconds is killed."""
        chunks = []
        try:
            if select.select([self._read], [], [], timeout)[0]:
                while chunk := os.read(self._read, 1 << 16):
                    chunks.append(chunk)
            else:
                os.kill(self.pid, signal.SIGKILL)
        finally:
            os.close(self._read)
            _, status = os.waitpid(self.pid, 0)
        data = b"".join(chunks)
        return (json.loads(data) if data else None), os.waitstatus_to_exitcode(status)
