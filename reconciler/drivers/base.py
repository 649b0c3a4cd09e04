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

"""The one interface every array driver implements.

A driver lists and decodes; it knows nothing of Cinder's API or of the
database. A driver instance serves one pass of one backend: the manager opens
it, lists, re-checks candidates with point look-ups, and closes it, always.
Any failure raises :class:`reconciler.exception.ArrayError` (or a subclass)
with a message that names the cause and never a secret.
"""

import abc
import contextlib

from reconciler import exception
from reconciler import log_masking

# Array clients log session keys and echo credentials; mask them wherever
# the records go (see reconciler.log_masking).
log_masking.protect_loggers()


class ArrayDriver(abc.ABC):

    #: oslo.config options of this driver, registered in the backend's group.
    #: Use the option names Cinder's own driver uses.
    OPTS = ()

    #: Cinder ``volume_driver`` paths this driver stands in for, so a group
    #: copied from cinder.conf selects it without a reconciler-specific option.
    CINDER_VOLUME_DRIVERS = ()

    #: Options that must be set; checked before anything connects.
    REQUIRED = ()

    #: True where a name Cinder did not write can decode as Cinder's by
    #: chance (measured by tests/unit/drivers/test_name_collisions.py):
    #: then set ``chance_names`` in the driver's views.
    CHANCE_NAMES = False

    #: ``{Cinder volume_driver path: protocol}`` (model.ISCSI or
    #: model.FIBRE_CHANNEL) where the path says which protocol Cinder's
    #: driver attaches with: every attachment of the backend is of it.
    PROTOCOLS = {}

    #: ``(distribution, extra)`` of the client library this driver needs,
    #: set when it is installed as an extra and did not import: the driver
    #: still loads (its options are listed) but refuses its backend.
    MISSING_CLIENT = None

    def __init__(self, backend):
        """``backend`` is a :class:`reconciler.conf.backend.BackendConf`."""
        self.backend = backend
        if self.MISSING_CLIENT:
            raise exception.ConfigError(
                'backend %s: %s is not installed (pip install '
                'cinder-reconciler[%s])' % ((backend.name,)
                                            + self.MISSING_CLIENT))
        missing = [o for o in self.REQUIRED if not getattr(backend, o)]
        if missing:
            raise exception.ConfigError('backend %s: %s not set' % (
                backend.name, ', '.join(missing)))

    @property
    def protocol(self):
        """The protocol of the backend's attachments, None if unknown
        (a ``volume_driver`` this driver does not know the protocol of).
        """
        return self.PROTOCOLS.get(self.backend.volume_driver)

    def open(self):
        """Connect and log in. Called once per pass before any listing."""

    def close(self):
        """Log out and release connections. Called once per pass, always."""

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc):
        self.close()

    @abc.abstractmethod
    def list_objects(self):
        """Return a :class:`reconciler.model.ArrayView` of the backend's pools.

        Complete or an exception: volumes, snapshots and exports, each
        decoded to a Cinder UUID where the name allows.
        """

    def list_objects_reusing(self, cache):
        """:meth:`list_objects`, reusing what earlier passes read of objects
        the driver can tell did not change.

        ``cache`` is the backend's
        :class:`reconciler.inventory.incremental.ArrayCache`, kept by the
        manager between passes: the driver keeps its own data there and
        reads in full when ``cache.full_reason()`` says so. The view must
        equal a full listing's. By default: a full listing.
        """
        return self.list_objects()

    @abc.abstractmethod
    def find_volume(self, volume_key):
        """Point look-up of the volume named after ``volume_key``.

        Returns the :class:`reconciler.model.ArrayObject` or None if absent.
        """

    @abc.abstractmethod
    def find_snapshot(self, snapshot_id, volume_key, group_snapshot_id=None):
        """Point look-up of a snapshot of the volume named ``volume_key``.

        Members of a group snapshot may be named after ``group_snapshot_id``
        (3PAR, LeftHand) rather than after their own id.
        """

    @abc.abstractmethod
    def refresh(self, obj):
        """Look ``obj`` up again by its array name; None if it is gone."""

    @contextlib.contextmanager
    def lookup_round(self):
        """A pass's re-check round: the point look-ups made inside may
        share one read of the array made for the round, after Cinder's
        listing (NEC, whose only query is the whole array). Outside a
        round, as when remediation re-checks right before acting, every
        look-up reads afresh. By default every look-up reads afresh.
        """
        yield

    def volume_exports(self, export):
        """Every export of ``export``'s volume now, itself included.

        None where the driver cannot tell: then no export of a volume is
        judged by its siblings (see ``engine.export_match``).
        """
        return None

    # Name mapping, for drivers whose names encode Cinder UUIDs.

    def volume_name(self, volume_key):
        """The array name of the volume named after ``volume_key``."""
        raise NotImplementedError()

    def snapshot_name(self, snapshot_id):
        raise NotImplementedError()

    def decode_name(self, name):
        """Return ``(ResourceType, ObjectClass, uuid or None)`` for a name."""
        raise NotImplementedError()

    # Remediation (optional): what this driver's array lets it undo. Each
    # acts on one object the remediation has just re-checked, and raises
    # ArrayError if the array refuses.

    #: Array-side actions offered: a subset of unexport, quarantine, delete.
    #: A driver offering quarantine or delete answers the look-ups the
    #: remediation stage guards them with (``exports_of``,
    #: ``snapshots_of``, ``quarantine_name``): checked when the class is
    #: defined, so no driver can skip them.
    REMEDIATIONS = frozenset()

    #: True where Cinder's unmanage leaves the object under Cinder's name
    #: (LVM, NEC, RBD): an array-only object may then be one an operator
    #: deliberately handed back, and is never adopted or deleted by default.
    UNMANAGE_KEEPS_NAME = False

    _GUARD_LOOKUPS = {'quarantine': ('exports_of', 'quarantine_name'),
                      'delete': ('exports_of', 'snapshots_of')}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        missing = sorted({
            name for action in cls.REMEDIATIONS
            for name in cls._GUARD_LOOKUPS.get(action, ())
            if getattr(cls, name) is getattr(ArrayDriver, name)})
        if missing:
            raise TypeError('%s offers %s but does not implement %s, which '
                            'the remediation stage guards them with'
                            % (cls.__name__, ', '.join(sorted(
                                cls.REMEDIATIONS)), ', '.join(missing)))

    def manage_reference(self, obj):
        """The ``ref`` Cinder's manage API takes to adopt ``obj``."""
        return {'source-name': obj.name}

    def remove_export(self, obj):
        """Remove the one mapping ``obj`` (an export); never its volume."""
        raise NotImplementedError()

    def quarantine(self, obj):
        """Rename ``obj`` to ``quarantine_name(obj)``; returns that name.

        Reversible: the object is kept, under a name the driver classifies
        as unmanaged (or foreign), so it stops counting as an orphan.
        """
        raise NotImplementedError()

    # Look-ups guarding those actions (reconciler.remediation.safety),
    # answered now, from the array.

    def exports_of(self, obj):
        """Where the volume or snapshot ``obj`` is exported now: the
        array's names of the hosts, LD sets or targets; empty if nowhere.
        """
        raise NotImplementedError()

    def snapshots_of(self, obj):
        """Names of the array's snapshots that depend on ``obj`` now (a
        volume's snapshots, a snapshot's own copies); empty if none.
        """
        raise NotImplementedError()

    def quarantine_name(self, obj):
        """The name ``quarantine`` gives ``obj``."""
        raise NotImplementedError()

    def delete_object(self, obj):
        """Delete the array volume or snapshot ``obj``: data is lost."""
        raise NotImplementedError()
