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

"""Errors a pass can fail with.

Every failure of a listing or look-up is one of these, carrying a message that
says what the operator should check. None of them ever carries a secret.
"""

import re

from oslo_db import exception as db_exc
from oslo_utils import strutils
from sqlalchemy import exc as sa_exc


class ReconcilerError(Exception):
    """Base class; the message is safe to log and to store in history."""


class NotFound(ReconcilerError):
    """A finding, run or marker that the history does not hold."""


class ConfigError(ReconcilerError):
    """A backend group's configuration is missing or contradictory."""


class UnsupportedBackend(ConfigError):
    """No reconciler driver handles a backend's Cinder ``volume_driver``."""


class InventoryError(ReconcilerError):
    """A listing failed or was implausible; the pass must produce nothing."""


class CinderError(InventoryError):
    """Cinder's API failed, refused us, or answered something unusable."""


class NovaError(InventoryError):
    """Nova's API failed, refused us, or answered something unusable."""


class KeystoneError(InventoryError):
    """Keystone's API failed, refused us, or answered something unusable."""


class ArrayError(InventoryError):
    """The array failed, refused us, or answered something unusable."""


class ArrayUnreachable(ArrayError):
    pass


class ArrayAuthError(ArrayError):
    pass


class ArrayResponseError(ArrayError):
    """Malformed or inconsistent array output."""


class ImplausibleInventory(InventoryError):
    """A listing that worked but cannot be true (empty, sharply shrunk)."""


class PassInterrupted(ReconcilerError):
    """The service is stopping, or the backend's coordination lock was lost;
    the pass stopped between two stages.
    """


class ConcurrentChange(ReconcilerError):
    """Another pass changed the backend's findings since this one read them;
    nothing of this pass was recorded.
    """


#: What the history database (oslo.db, SQLAlchemy) raises.
DATABASE_ERRORS = (db_exc.DBError, sa_exc.SQLAlchemyError)


def describe(exc):
    """One line saying what failed, safe to log and print.

    Our own errors say it themselves. A database error (oslo.db or
    SQLAlchemy) keeps only its first line, the driver's message, without
    the statement, its parameters or any credentials of a URL.
    """
    if isinstance(exc, ReconcilerError):
        return str(exc)
    lines = str(exc).strip().splitlines()
    text = strutils.mask_password(lines[0] if lines else '')
    text = re.sub(r'//[^/@\s]*@', '//***@', text)
    if isinstance(exc, DATABASE_ERRORS):
        return 'history database error: %s' % (text or type(exc).__name__)
    return '%s: %s' % (type(exc).__name__, text) if text else (
        type(exc).__name__)
