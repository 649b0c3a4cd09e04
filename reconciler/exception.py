"""Errors a pass can fail with.

Every failure of a listing or look-up is one of these, carrying a message that
says what the operator should check. None of them ever carries a secret.
"""


class ReconcilerError(Exception):
    """Base class; the message is safe to log and to store in history."""


class ConfigError(ReconcilerError):
    """A backend group's configuration is missing or contradictory."""


class UnsupportedBackend(ConfigError):
    """No reconciler driver handles a backend's Cinder ``volume_driver``."""


class InventoryError(ReconcilerError):
    """A listing failed or was implausible; the pass must produce nothing."""


class CinderError(InventoryError):
    """Cinder's API failed, refused us, or answered something unusable."""


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
