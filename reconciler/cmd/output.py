"""A command's own output, kept apart from what libraries print.

Commands whose stdout is their result (``check --format json``) must print
nothing else there, but client libraries write to ``sys.stdout`` by
themselves: hpelefthandclient prints ``_do_reauth called`` whenever it logs
in again after a 401, which made that JSON unparsable. While a command
runs, :func:`libraries_to_log` sends ``sys.stdout`` to the log (stderr for
these commands) and the command writes its result with :func:`emit`.
"""

import contextlib
import io
import sys

from oslo_log import log as logging

LOG = logging.getLogger(__name__)
_result = None      # the real stdout while libraries_to_log is active


class _LogLines(io.TextIOBase):
    """A text stream whose lines become log records."""

    def writable(self):
        return True

    def write(self, text):
        for line in text.splitlines():
            if line.strip():
                LOG.info('printed by a library: %s', line)
        return len(text)


@contextlib.contextmanager
def libraries_to_log():
    """Send ``sys.stdout`` to the log; :func:`emit` still writes to it."""
    global _result
    _result, sys.stdout = sys.stdout, _LogLines()
    try:
        yield
    finally:
        sys.stdout, _result = _result, None


def emit(text, flush=False):
    """Write one result line (or block) to the command's real stdout."""
    print(text, file=_result or sys.stdout, flush=flush)
