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

"""Plain value types handed from one stage of a pass to the next.

Every stage imports this module; it imports nothing of ours, so the engine can
be reasoned about (and tested) without HTTP, SSH, SQL or oslo in the picture.
"""

import dataclasses
import enum
import typing


class FindingKind(enum.StrEnum):
    ARRAY_ONLY = 'array_only'
    CINDER_ONLY = 'cinder_only'
    ORPHAN_EXPORT = 'orphan_export'
    FOREIGN = 'foreign'
    # A temporary object Cinder makes (migration, snapshot export, clone
    # parent) whose operation is over: a leak, never acted on by default.
    STALE_TEMPORARY = 'stale_temporary'
    # Array-only, but Cinder's events alone say Cinder unmanaged it: shown,
    # never announced by default nor acted on.
    UNMANAGED = 'unmanaged'
    # Host findings (scope ``host:<connector host>``, see reconciler.host).
    LEFTOVER_DEVICE = 'leftover_device'  # device/map no attachment here uses
    FAULTY_MAP = 'faulty_map'            # all paths faulty, unreferenced
    FAULTY_ATTACHED = 'faulty_attached'  # all paths faulty, still attached
    STALE_SESSION = 'stale_session'      # session/controller, no device
    MISSING_DEVICE = 'missing_device'    # attached here, no device
    # Cloud findings (scope ``cloud``: Cinder against Nova and Keystone,
    # see reconciler.cloud).
    STALE_ATTACHMENT = 'stale_attachment'  # no instance or BDM in Nova
    DANGLING_BDM = 'dangling_bdm'        # Nova's, no volume or attachment
    STUCK_STATUS = 'stuck_status'        # transitional for too long
    ORPHAN_PROJECT = 'orphan_project'    # its project gone from Keystone
    STUCK_DELETING = 'stuck_deleting'    # error_deleting, object still there


HOST_KINDS = frozenset((
    FindingKind.LEFTOVER_DEVICE, FindingKind.FAULTY_MAP,
    FindingKind.FAULTY_ATTACHED, FindingKind.STALE_SESSION,
    FindingKind.MISSING_DEVICE))
CLOUD_KINDS = frozenset((
    FindingKind.STALE_ATTACHMENT, FindingKind.DANGLING_BDM,
    FindingKind.STUCK_STATUS, FindingKind.ORPHAN_PROJECT,
    FindingKind.STUCK_DELETING))


class ResourceType(enum.StrEnum):
    VOLUME = 'volume'
    SNAPSHOT = 'snapshot'
    EXPORT = 'export'
    DEVICE = 'device'          # a SCSI disk or NVMe namespace on a host
    MULTIPATH = 'multipath'    # a device-mapper multipath map
    SESSION = 'session'        # an iSCSI session or NVMe-oF controller
    ATTACHMENT = 'attachment'  # a Cinder attachment to a host
    BACKUP = 'backup'          # a Cinder backup
    BDM = 'bdm'                # a Nova volume attachment (server/volume)


class ObjectClass(enum.StrEnum):
    """What a driver decoded an array object to be."""

    CINDER = 'cinder-named'  # follows Cinder's naming: the one class compared
    TEMPORARY = 'temporary'  # clone, migration and convert temporaries
    UNMANAGED = 'unmanaged'  # renamed on unmanage (3PAR and LeftHand unm-)
    REPLICA = 'replica'      # replication copies and schedules
    CONTROL = 'control'      # array objects Cinder made (NEC control LD)
    FOREIGN = 'foreign'      # in our pools, not Cinder-named


class FindingState(enum.StrEnum):
    SUSPECTED = 'suspected'
    CONFIRMED = 'confirmed'
    RESOLVED = 'resolved'


# Cinder's ``driver_volume_type`` of the protocols array hosts are told by.
ISCSI = 'iscsi'
FIBRE_CHANNEL = 'fibre_channel'


class RunStatus(enum.StrEnum):
    RUNNING = 'running'
    OK = 'ok'
    FAILED = 'failed'


@dataclasses.dataclass(frozen=True, slots=True)
class CinderAttachment:
    host_name: str | None
    instance_id: str | None = None
    attachment_id: str | None = None
    # Initiators (WWNs) Cinder exposes for the attachment, its protocol
    # (ISCSI or FIBRE_CHANNEL, connection_info's driver_volume_type) and
    # the LUNs the driver gave it (target_lun/target_luns): filled in by
    # point look-ups only, listings carry host names alone.
    initiators: frozenset[str] = frozenset()
    protocol: str | None = None
    luns: frozenset[int] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class CinderVolume:
    id: str
    name_id: str | None
    host: str | None
    status: str
    migration_status: str | None = None
    project_id: str | None = None
    attachments: tuple[CinderAttachment, ...] = ()
    # ``cluster@backend#pool`` of a clustered (active/active) backend, as
    # Cinder shows it from microversion 3.61.
    cluster_name: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    # The volume a clone was made from, if Cinder says.
    source_volid: str | None = None

    @property
    def key(self):
        """The UUID the backend object is named after."""
        return self.name_id or self.id


@dataclasses.dataclass(frozen=True, slots=True)
class CinderSnapshot:
    id: str
    volume_id: str
    status: str
    project_id: str | None = None
    group_snapshot_id: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class CinderView:
    """Cinder's live volumes and snapshots on one ``host@backend``.

    Of a clustered backend: those of its ``cluster@backend`` instead.
    """

    backend_host: str
    volumes: tuple[CinderVolume, ...]
    snapshots: tuple[CinderSnapshot, ...]
    fetched_at: float
    seconds: float = 0.0
    requests: int = 0
    cluster: str | None = None


#: ``rule(attachment) -> True | False | None``; see :class:`ArrayObject`.
HostRule = typing.Callable[[CinderAttachment], bool | None]


@dataclasses.dataclass(frozen=True, slots=True)
class ArrayObject:
    """One array object, already decoded by its driver.

    For snapshots ``parent_uuid`` is the UUID the parent volume is named after
    (its Cinder ``name_id or id``). For exports ``name`` identifies the mapping
    (e.g. ``<volume name>@<array host>``), ``uuid`` is the exported volume's
    decoded UUID and ``host``/``initiators`` say where it is mapped to:
    ``host`` is the array's name of the host where the array names hosts
    after Cinder's connector host (3PAR, LeftHand), None where it does not
    (NEC LD sets), so that only initiators can identify the host.
    ``host_rule`` is set by drivers that model how Cinder's driver names
    array hosts: given an attachment, True if Cinder would have mapped its
    connector to ``host``, False if it would not, None if Cinder's API does
    not show enough to tell (an iSCSI initiator). Without one, the engine
    compares host names by their first label, or initiators.
    Group-snapshot members carry the group snapshot UUID in ``group_uuid`` and
    no ``uuid``; the engine resolves them through their parent.
    ``luns`` are an export's LUNs, where the array numbers them per host.
    ``held_by`` is set on temporaries Cinder makes for an operation:
    ``(ResourceType, uuid)`` of the Cinder volume or snapshot that is in
    transition while the operation runs (a migrating volume, a snapshot
    being backed up); once it is not, the temporary is stale.
    """

    kind: ResourceType
    name: str
    uuid: str | None
    object_class: ObjectClass
    pool: str | None = None
    size_gib: float | None = None
    parent_uuid: str | None = None
    group_uuid: str | None = None
    host: str | None = None
    initiators: frozenset[str] = frozenset()
    host_rule: HostRule | None = dataclasses.field(
        default=None, compare=False, repr=False)
    luns: frozenset[int] = frozenset()
    held_by: tuple[ResourceType, str | None] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ArrayView:
    """Everything one driver listed for one backend in one pass."""

    objects: tuple[ArrayObject, ...]
    fetched_at: float
    seconds: float = 0.0
    requests: int = 0
    # Cinder pools (``host@backend#pool`` suffixes) the listing covered; None
    # when it covered the whole backend. A volume in another pool is unknown,
    # never Cinder-only.
    pools: frozenset[str] | None = None
    # Seconds after which the array deletes snapshots by itself (3PAR
    # hpe3par_snapshot_expiration); older Cinder snapshots may rightly be gone.
    snapshot_lifetime: float | None = None
    # False when the driver reused what earlier passes read of objects that
    # did not change (RBD headers); ``read_in_full``: the objects it read
    # (None where the driver does not count them).
    full_listing: bool = True
    read_in_full: int | None = None
    # True where a name Cinder did not write can decode as Cinder's by
    # chance (NEC base 62, 3PAR base 64): a finding that only such a name
    # ties to Cinder says so (``ownership_evidence: name``).
    chance_names: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Candidate:
    """A suspected finding of one pass, before or after its re-check."""

    kind: FindingKind
    resource_type: ResourceType
    # The resource's identity within the backend: the Cinder UUID where one
    # is known, otherwise the raw array name.
    resource_id: str
    array_name: str | None = None
    cinder_id: str | None = None
    project_id: str | None = None
    details: tuple[tuple[str, str], ...] = ()

    @property
    def identity(self):
        return (self.kind, self.resource_type, self.resource_id)


@dataclasses.dataclass(frozen=True, slots=True)
class Transition:
    """A finding that changed state in a pass (what notifications announce)."""

    backend: str
    candidate: Candidate
    old_state: FindingState | None
    new_state: FindingState
    first_seen: float
    sightings: int


@dataclasses.dataclass(frozen=True, slots=True)
class CinderEvent:
    """One of Cinder's notifications about a volume or snapshot, as
    recorded (see reconciler.cinder_events), or a listener's start marker.

    ``emitted_at`` is Cinder's timestamp, ``recorded_at`` the reconciler's
    (None until recorded); ``payload`` a compact subset of Cinder's, never
    credentials nor connection_info. A start marker has the event type
    ``cinder_events.LISTENER_STARTED`` and no resource.
    """

    backend: str
    event_type: str
    resource_type: str | None
    resource_id: str | None
    host: str | None
    emitted_at: float
    message_id: str | None = None
    payload: tuple[tuple[str, str], ...] = ()
    recorded_at: float | None = None
    id: int | None = None
