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

"""Value types of the host side: what the kernel shows, what Cinder says.

Like :mod:`reconciler.model`, this imports nothing of ours; the inventory
produces these, the comparison consumes them.
"""

import dataclasses

ISCSI = 'iscsi'
FC = 'fc'
NVME = 'nvmeof'


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class TargetKey:
    """One LUN (or NVMe subsystem) on one target, as both sides name it.

    ``target`` is an IQN, a target port WWPN (16 lower-case hex digits) or
    an NQN; ``lun`` is None for NVMe (namespaces are not addressed by LUN).
    """

    protocol: str
    target: str
    lun: int | None = None

    def __str__(self):
        return '%s:%s' % (self.target, 'lun%d' % self.lun
                          if self.lun is not None else '-')


@dataclasses.dataclass(frozen=True, slots=True)
class ScsiDisk:
    name: str                 # sdb
    hctl: str                 # 3:0:0:1
    key: TargetKey | None     # None: not iSCSI/FC (local disk, USB, ...)
    portal: str | None = None
    wwid: str | None = None   # as multipath names it: 3600...
    vendor: str = ''
    model: str = ''
    state: str = ''           # sysfs device state: running, offline...
    links: tuple[str, ...] = ()
    holders: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class MapPath:
    dev: str
    dm_st: str
    chk_st: str
    dev_st: str

    @property
    def faulty(self):
        return (self.chk_st in ('faulty', 'shaky') or self.dm_st == 'failed'
                or self.dev_st == 'offline')


@dataclasses.dataclass(frozen=True, slots=True)
class MultipathMap:
    name: str
    wwid: str
    dm: str                   # dm-3
    paths: tuple[MapPath, ...]
    holders: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()
    open_count: int | None = None  # dmsetup's: openers of the map now
    features: str = ''        # multipathd's: "1 queue_if_no_path"...

    @property
    def pathless(self):
        """No path at all: what an unmapped LUN or a disconnect whose
        flush failed leaves (the paths deleted, the map not).
        """
        return not self.paths

    @property
    def all_faulty(self):
        """Every path the map has is faulty; False for a pathless map.

        Deliberately: "all faulty" says the path checker judged paths
        that exist. A pathless map is a different state (see
        :attr:`pathless`), judged by its WWID alone, and os-brick's
        disconnect of a faulty map has no path to find it by.
        """
        return bool(self.paths) and all(p.faulty for p in self.paths)

    @property
    def queue_if_no_path(self):
        """I/O to the map waits (hangs) while it has no usable path."""
        return 'queue_if_no_path' in self.features.split()


@dataclasses.dataclass(frozen=True, slots=True)
class IscsiSession:
    sid: str
    target: str
    portal: str
    state: str
    disks: tuple[tuple[int, str], ...]  # (lun, sdX) from iscsiadm


@dataclasses.dataclass(frozen=True, slots=True)
class NvmeSubsystem:
    name: str                 # nvme-subsys0
    nqn: str
    controllers: tuple[tuple[str, str, str], ...]  # (nvme0, tcp, address)
    namespaces: tuple[str, ...]                    # nvme0n1

    @property
    def local(self):
        return all(t == 'pcie' for _n, t, _a in self.controllers)


@dataclasses.dataclass(frozen=True, slots=True)
class Namespace:
    """An NVMe namespace block device and the identifiers the kernel shows.

    ``uuid`` and ``nguid`` are the sysfs attributes (``%pU`` form: lower
    case, hyphenated; the kernel shows the NGUID as ``uuid`` when the
    namespace has no UUID), ``wwid`` the kernel's ``uuid.``/``eui.``/
    ``nvme.`` name, ``nsid`` the namespace id in its subsystem.
    """

    name: str
    nqn: str
    wwid: str | None = None
    holders: tuple[str, ...] = ()
    mounts: tuple[str, ...] = ()
    nsid: int | None = None
    uuid: str | None = None
    nguid: str | None = None


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class NamespaceId:
    """The namespace a connection_info names in subsystem ``nqn``.

    Subsystems of Pure, ONTAP or PowerStore hold every volume of the array,
    so the NQN alone names none of them. As os-brick finds the device, a
    UUID or NGUID (hyphenated, lower case) identifies the namespace; the
    nsid only when neither is given.
    """

    nqn: str
    uuid: str | None = None
    nguid: str | None = None
    nsid: int | None = None

    def matches(self, ns):
        if ns.nqn != self.nqn:
            return False
        if self.uuid or self.nguid:
            return bool((self.uuid and self.uuid == ns.uuid)
                        or (self.nguid and self.nguid == ns.nguid))
        return self.nsid is not None and self.nsid == ns.nsid


@dataclasses.dataclass(frozen=True, slots=True)
class HostView:
    """One scan of the host; every part complete or the scan failed."""

    disks: tuple[ScsiDisk, ...]
    maps: tuple[MultipathMap, ...]
    sessions: tuple[IscsiSession, ...]
    nvme: tuple[NvmeSubsystem, ...]
    namespaces: tuple[Namespace, ...]
    # Block devices (whole disks and maps) the root file system or /boot
    # rests on, through any holders: never judged.
    boot: frozenset[str]
    fetched_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class Attachment:
    """A Cinder attachment with the targets its connection_info names.

    ``host`` is the connector host Cinder recorded (None while the
    attachment is not attached: Cinder shows the host of attached ones
    only). ``targets`` is empty when there is no usable connection_info.
    """

    attachment_id: str
    volume_id: str
    instance_id: str | None
    attach_status: str
    host: str | None
    volume_status: str | None
    migration_status: str | None
    protocol: str | None
    targets: frozenset[TargetKey]
    portals: frozenset[str] = frozenset()
    project_id: str | None = None
    # NVMe-oF: the namespaces it names (empty: the NQN alone, legacy).
    namespaces: frozenset[NamespaceId] = frozenset()
    # WWIDs (multipath form, 36...) connection_info names, if any.
    wwids: frozenset[str] = frozenset()


@dataclasses.dataclass(frozen=True, slots=True)
class CinderHostView:
    """Cinder's attachments (all hosts) and volume states, for one host."""

    host: str
    attachments: tuple[Attachment, ...]
    # volume id -> (status, migration_status, host@backend#pool)
    volumes: dict
    fetched_at: float
    seconds: float = 0.0
    requests: int = 0

    def here(self):
        return [a for a in self.attachments
                if a.host == self.host and a.attach_status == 'attached']
