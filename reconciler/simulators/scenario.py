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

"""One description of a cloud: what Cinder holds and what each array holds.

The demo, the functional tests and the benchmarks describe a cloud once, here;
the real Cinder API is seeded from it and every array simulator renders its
backend's objects from it in that array's own naming scheme. Objects are
described abstractly (kind, UUID, class); a simulator encodes names.

YAML form (every key but ids optional)::

    backends:
      - {name: lh1, host: demo-host, driver: lefthand, pools: [cluster1]}
    volumes:
      - {id: <uuid>, backend: lh1, status: available, name_id: null,
         project: project-a, attached_to: [compute-1], on_array: true}
    snapshots:
      - {id: <uuid>, volume: <volume uuid>, status: available, on_array: true}
    array_objects:        # objects that exist on an array only
      - {backend: lh1, kind: volume, uuid: <uuid>, class: cinder-named}
      - {backend: lh1, kind: volume, name: some-lun, class: foreign}
      - {backend: lh1, kind: export, uuid: <volume uuid>, host: compute-9}
"""

import dataclasses
import uuid as uuidlib

import yaml

from reconciler import model

_NAMESPACE = uuidlib.UUID('5a1e7b1c-0d2e-4c3f-9a8b-7c6d5e4f3a2b')


def uid(label):
    """A stable UUID for a label, so tests and docs can name objects.

    Version 4 in form, as every id Cinder generates (uuid4): drivers read
    only those as Cinder's. The bits are a name-based hash (uuid5's).
    """
    return str(uuidlib.UUID(bytes=uuidlib.uuid5(_NAMESPACE, label).bytes,
                            version=4))


def initiator(host):
    """The iSCSI initiator name of a simulated compute host.

    The Cinder side's connectors and every array simulator's hosts use it,
    so that both sides of a scenario agree on who is who.
    """
    return 'iqn.1993-08.org.debian:01:%s' % host


def _as_uuid(value):
    """UUIDs stay as they are; any other label becomes ``uid(label)``."""
    if value is None:
        return None
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        return uid(str(value))


# Fields that hold UUIDs; a scenario file may give labels instead.
_UUID_FIELDS = ('id', 'name_id', 'volume', 'uuid', 'parent',
                'group_snapshot_id', 'group')


@dataclasses.dataclass
class Backend:
    """A cinder-volume backend; ``name`` is unique within the scenario.

    ``group`` is the backend's config group (the part after ``@`` in Cinder's
    host string), when two hosts use the same group name. ``cluster`` is
    Cinder's ``[DEFAULT] cluster`` of an active/active backend: its volumes
    then carry ``cluster_name`` and the host of the member that made them
    (:attr:`Volume.member`, ``host`` by default).
    """

    name: str
    host: str = 'demo-host'
    driver: str = 'fake'
    pools: list = dataclasses.field(default_factory=lambda: ['pool1'])
    group: str | None = None
    cluster: str | None = None

    @property
    def backend_host(self):
        return '%s@%s' % (self.host, self.group or self.name)

    def cinder_host(self, pool=None, member=None):
        return '%s@%s#%s' % (member or self.host, self.group or self.name,
                             pool or self.pools[0])

    def cluster_name(self, pool=None):
        """Cinder's ``cluster@backend#pool`` of a volume, or None."""
        if not self.cluster:
            return None
        return '%s@%s#%s' % (self.cluster, self.group or self.name,
                             pool or self.pools[0])


@dataclasses.dataclass
class Volume:
    id: str
    backend: str
    status: str = 'available'
    name_id: str | None = None
    project: str = 'project-a'
    size: int = 1
    pool: str | None = None
    attached_to: list = dataclasses.field(default_factory=list)
    migration_status: str | None = None
    display_name: str | None = None
    on_array: bool = True
    member: str | None = None       # clustered backends: the member's host

    @property
    def key(self):
        return self.name_id or self.id


@dataclasses.dataclass
class Snapshot:
    id: str
    volume: str
    status: str = 'available'
    group_snapshot_id: str | None = None
    on_array: bool = True


@dataclasses.dataclass
class ArrayObject:
    """An abstract array object; simulators turn it into a real name."""

    backend: str
    kind: str = 'volume'
    uuid: str | None = None
    name: str | None = None
    object_class: str = model.ObjectClass.CINDER.value
    parent: str | None = None       # snapshots: the parent volume's key
    group: str | None = None        # snapshots: group snapshot id, if any
    host: str | None = None         # exports: the host it is mapped to
    pool: str | None = None
    size: int = 1


@dataclasses.dataclass
class Scenario:
    backends: list = dataclasses.field(default_factory=list)
    volumes: list = dataclasses.field(default_factory=list)
    snapshots: list = dataclasses.field(default_factory=list)
    array_objects: list = dataclasses.field(default_factory=list)

    @classmethod
    def from_dict(cls, data):
        def objs(kind, key, rename=()):
            out = []
            for item in data.get(key) or ():
                item = dict(item)
                if 'id' in item and kind is Volume:
                    item.setdefault('display_name', str(item['id']))
                for field in _UUID_FIELDS:
                    if field in item:
                        item[field] = _as_uuid(item[field])
                for old, new in rename:
                    if old in item:
                        item[new] = item.pop(old)
                out.append(kind(**item))
            return out
        return cls(backends=objs(Backend, 'backends'),
                   volumes=objs(Volume, 'volumes'),
                   snapshots=objs(Snapshot, 'snapshots'),
                   array_objects=objs(ArrayObject, 'array_objects',
                                      rename=(('class', 'object_class'),)))

    @classmethod
    def load(cls, path):
        with open(path) as f:
            return cls.from_dict(yaml.safe_load(f) or {})

    def backend(self, name):
        for b in self.backends:
            if b.name == name:
                return b
        raise KeyError(name)

    def volume(self, volume_id):
        for v in self.volumes:
            if v.id == volume_id:
                return v
        raise KeyError(volume_id)

    def array_contents(self, backend):
        """The abstract objects the array of ``backend`` holds."""
        b = self.backend(backend)
        volumes = {v.id: v for v in self.volumes if v.backend == backend}
        out = []
        for v in volumes.values():
            if not v.on_array:
                continue
            out.append(ArrayObject(backend, 'volume', uuid=v.key,
                                   pool=v.pool or b.pools[0], size=v.size))
            for host in v.attached_to:
                out.append(ArrayObject(backend, 'export', uuid=v.key,
                                       host=host, pool=v.pool or b.pools[0]))
        for s in self.snapshots:
            v = volumes.get(s.volume)
            if v is None or not s.on_array:
                continue
            out.append(ArrayObject(backend, 'snapshot', uuid=s.id,
                                   parent=v.key, group=s.group_snapshot_id,
                                   pool=v.pool or b.pools[0], size=v.size))
        for o in self.array_objects:
            if o.backend == backend:
                out.append(dataclasses.replace(o, pool=o.pool or b.pools[0]))
        return out


def planted(backend, driver, pools, host='ctl', healthy=8, foreign='lun-7',
            migrated_attached=False):
    """One backend with one planted orphan of each class, and decoys.

    Volumes ``v0``..``v<healthy-1>``; ``migrated`` (its object named after
    ``migrated-new``, attached to compute-1 when ``migrated_attached``);
    ``creating`` (no object yet); snapshots ``s0`` and ``s-migrated``.
    Planted: Cinder-only volume ``lost`` and snapshot ``lost-snap``,
    array-only volume ``leak`` and snapshot ``leak-snap`` (of v2), and a
    foreign volume named ``foreign``. Tests add what their array has more.
    """
    s = Scenario(backends=[Backend(backend, host=host, driver=driver,
                                   pools=list(pools))])
    s.volumes += [Volume(id=uid('v%d' % i), backend=backend)
                  for i in range(healthy)]
    attached = (dict(status='in-use', attached_to=['compute-1'])
                if migrated_attached else {})
    s.volumes += [
        Volume(id=uid('migrated'), backend=backend,
               name_id=uid('migrated-new'), **attached),
        Volume(id=uid('creating'), backend=backend, status='creating',
               on_array=False),
        Volume(id=uid('lost'), backend=backend, on_array=False)]
    s.snapshots += [
        Snapshot(id=uid('s0'), volume=uid('v0')),
        Snapshot(id=uid('s-migrated'), volume=uid('migrated')),
        Snapshot(id=uid('lost-snap'), volume=uid('v1'), on_array=False)]
    s.array_objects += [
        ArrayObject(backend, 'volume', uuid=uid('leak')),
        ArrayObject(backend, 'snapshot', uuid=uid('leak-snap'),
                    parent=uid('v2')),
        ArrayObject(backend, 'volume', name=foreign,
                    object_class=model.ObjectClass.FOREIGN.value)]
    return s
