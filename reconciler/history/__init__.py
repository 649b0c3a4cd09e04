"""SQL history of passes: runs, findings with their lifecycle, an outbox."""

from reconciler.history.api import FindingRecord
from reconciler.history.api import History
from reconciler.history.api import LifecyclePolicy
from reconciler.history.api import OutboxItem
from reconciler.history.api import RunRecord

__all__ = ['FindingRecord', 'History', 'LifecyclePolicy', 'OutboxItem',
           'RunRecord']
