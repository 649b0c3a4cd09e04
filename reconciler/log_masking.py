#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.

"""Keep credentials out of every log line, whoever writes it.

Array clients log URLs that hold session keys (a 3PAR or LeftHand logout is
``DELETE .../credentials/<key>``), echo request headers and bodies, and raise
exceptions whose text holds the same URL. A message is not the only carrier:
``exc_info`` is formatted into a traceback, and oslo.log's formatter appends
the summary of the exception being handled to any WARNING or worse, at
format time, after every filter has run. So two guards:

* :class:`MaskSecrets`, a filter that rewrites a record's message (``msg``
  with its ``args``), traceback (``exc_info``/``exc_text``) and
  ``stack_info``; it is put on the client libraries' loggers (records they
  log are filtered by their own logger only) and on the process's handlers
  (every record that reaches them, ours included);
* :class:`MaskingFormatter`, around each handler's formatter, which masks
  the finished line, whatever the formatter added to it.
"""

import logging
import re

from oslo_utils import strutils

MASK = '***'

# Loggers whose records can carry secrets: a logger's filters see only the
# records logged on it, not those of its children.
LIBRARY_LOGGERS = (
    'hpe3parclient', 'hpe3parclient.http', 'hpe3parclient.client',
    'hpelefthandclient', 'hpelefthandclient.http', 'urllib3.connectionpool',
    'paramiko', 'paramiko.transport', 'keystoneauth.session',
    'cinderclient.client', 'reconciler')

_PATTERNS = (
    # Session keys in URLs: 3PAR /api/v1/credentials/<key>, LeftHand
    # /lhos/credentials/<key>.
    (re.compile(r'(/credentials/)[^\s\'"/?#)]+'), r'\1' + MASK),
    # Session and token headers, as clients and proxies echo them.
    (re.compile(r'(?i)\b(x-auth-token|x-subject-token|x-hp3par-wsapi-'
                r'sessionkey|authentication|authorization)(["\']?\s*[:=]\s*'
                r'["\']?)(?!\{SHA256\})[^\s\'",}]+'), r'\1\2' + MASK),
)


def mask(text):
    """``text`` with passwords, tokens and session keys masked."""
    text = strutils.mask_password(text, secret=MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class MaskSecrets(logging.Filter):
    """Mask a record's message, traceback and stack before any handler."""

    def filter(self, record):
        try:
            message = record.getMessage()
        except Exception:   # a bad format string: keep what there is
            message = str(record.msg)
        record.msg, record.args = mask(message), ()
        if record.exc_info and record.exc_info[0] is not None:
            # Formatters format exc_info again: keep only the masked text.
            record.exc_text = mask(
                logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


class MaskingFormatter(logging.Formatter):
    """Another formatter's lines, masked (see the module's docstring)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def format(self, record):
        return mask(self.inner.format(record))


def _has_mask(filterer):
    return any(isinstance(f, MaskSecrets) for f in filterer.filters)


def protect_loggers(names=LIBRARY_LOGGERS):
    """Put :class:`MaskSecrets` on the loggers ``names`` (idempotent)."""
    for name in names:
        logger = logging.getLogger(name)
        if not _has_mask(logger):
            logger.addFilter(MaskSecrets())


def protect_handler(handler):
    """Mask what ``handler`` writes (idempotent)."""
    if not _has_mask(handler):
        handler.addFilter(MaskSecrets())
    if not isinstance(handler.formatter, MaskingFormatter):
        handler.setFormatter(MaskingFormatter(
            handler.formatter or logging.Formatter()))


def install():
    """Guard the library loggers and every handler configured so far.

    Called once logging is set up (:func:`reconciler.conf.prepare`), so
    that handlers from ``log_config_append`` files are guarded too.
    """
    protect_loggers()
    loggers = [logging.getLogger()] + [
        logger for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)]
    for logger in loggers:
        for handler in logger.handlers:
            protect_handler(handler)
