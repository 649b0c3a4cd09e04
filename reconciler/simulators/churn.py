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

"""Accuracy under churn: passes run while the cloud legitimately changes.

A :class:`Churn` drives Cinder's lifecycle operations on a
:class:`~reconciler.simulators.loopback.LoopbackCloud` (create, delete,
attach, detach, migrate, retype, snapshot, snapshot delete, unmanage and,
on RBD's real Ceph cluster, clone), each as Cinder does it: the DB row and
the array object change in Cinder's order, with pauses in between, so every
object an operation touches is in flux while the passes look, and each
announced with the notifications Cinder sends for it
(reconciler.simulators.churn_events), which the daemon's own listener
records in history for the incremental passes. Separately it plants real
orphans of every class (which nothing announces) and injects faults, every
kind once a round: the broker refusing the reconciler's sends for a while,
Cinder's events lost before the broker, delivered late, or sent while the
listener is stopped (it restarts: a gap), another writer holding the
history database, HTTP 500s and dropped connections mid-pagination, a
Cinder token rejected, the array failing, 3PAR sessions expiring, NEC SSH
connections dropped, the Ceph OSD frozen.

Each backend's passes run back to back in their own thread, through the
daemon's own ``manager.BackendReconciler``. A confirmed transition (what
``reconciler.orphan.detected`` announces) or a notification for anything not
planted is a false positive; recall is the share of planted orphans
confirmed, with the passes each took.
"""

import collections
from concurrent import futures
import dataclasses
import functools
import itertools
import random
import sqlite3
import threading
import time

import oslo_messaging

from reconciler.conf import backend as backend_conf
from reconciler.drivers import hpe3par_names
from reconciler import history as history_mod
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod
from reconciler.simulators import churn_events
from reconciler.simulators import loopback
from reconciler.simulators import nec
from reconciler.simulators import scenario as scn

K = model.FindingKind
R = model.ResourceType
ORPHAN_HOST = 'compute-orphan'


def identity(kind, resource_type, resource_id):
    """A finding's identity as plain strings (enum members hash apart)."""
    return (str(kind), str(resource_type), resource_id)


class FakeArrayOps:
    """Changes to the fake driver's file, one atomic rewrite each."""

    def __init__(self, array):
        self.array = array
        self.lock = threading.Lock()

    def _change(self, section, add=None, drop=None):
        with self.lock:
            items = self.array.content[section]
            if drop is not None:
                items[:] = [i for i in items if not drop(i)]
            if add is not None:
                items.append(add)
            self.array.save()

    def add_volume(self, key):
        self._change('volumes', {'name': 'volume-%s' % key,
                                 'pool': 'pool1', 'size': 1})

    def remove_volume(self, key):
        self._change('volumes', drop=lambda v: v['name'] == 'volume-%s' % key)

    def rename_unmanaged(self, key):
        with self.lock:
            for v in self.array.content['volumes']:
                if v['name'] == 'volume-%s' % key:
                    v['name'] = 'unm-%s' % key
            self.array.save()

    def add_snapshot(self, snapshot_id, key):
        self._change('snapshots', {'name': 'snapshot-%s' % snapshot_id,
                                   'volume': 'volume-%s' % key})

    def remove_snapshot(self, snapshot_id):
        self._change('snapshots', drop=lambda s: s['name'] ==
                     'snapshot-%s' % snapshot_id)

    def add_export(self, key, host):
        self._change('exports', {'volume': 'volume-%s' % key, 'host': host,
                                 'initiators': [scn.initiator(host)]})

    def remove_export(self, key, host):
        self._change('exports', drop=lambda e: (e['volume'], e['host']) == (
            'volume-%s' % key, host))

    @staticmethod
    def export_id(key, host):
        return 'volume-%s@%s' % (key, host)

    def fail(self, seconds):
        """The array answers every call with an error for ``seconds``."""
        for error in ('injected array failure', None):
            with self.lock:
                self.array.content['error'] = error
                self.array.save()
            time.sleep(seconds if error else 0)


class HPE3PAROps:
    """Changes to the 3PAR simulator's state, under its lock."""

    def __init__(self, array):
        self.array = array
        self.sim = array.sim
        self.cpg = array.backend.pools[0]

    def add_volume(self, key):
        with self.sim.lock:
            self.sim.add_volume(hpe3par_names.volume_name(key), self.cpg)

    def remove_volume(self, key):
        with self.sim.lock:
            del self.sim.volumes[hpe3par_names.volume_name(key)]

    def rename_unmanaged(self, key):
        with self.sim.lock:
            vv = self.sim.volumes.pop(hpe3par_names.volume_name(key))
            vv['name'] = hpe3par_names.name('unm-', key)
            self.sim.volumes[vv['name']] = vv

    def add_snapshot(self, snapshot_id, key):
        with self.sim.lock:
            self.sim.add_volume(hpe3par_names.snapshot_name(snapshot_id),
                                self.cpg,
                                copy_of=hpe3par_names.volume_name(key))

    def remove_snapshot(self, snapshot_id):
        with self.sim.lock:
            del self.sim.volumes[hpe3par_names.snapshot_name(snapshot_id)]

    def add_export(self, key, host):
        with self.sim.lock:
            self.sim.add_vlun(hpe3par_names.volume_name(key),
                              self.sim.add_host(host))

    def remove_export(self, key, host):
        name = hpe3par_names.volume_name(key)
        with self.sim.lock:
            self.sim.vluns[:] = [v for v in self.sim.vluns if (
                v['volumeName'], v['hostname']) != (name, host)]

    @staticmethod
    def export_id(key, host):
        return '%s@%s' % (hpe3par_names.volume_name(key), host)

    def fail(self, seconds):
        """One listing or look-up answers 500; sessions expire meanwhile."""
        self.array.proxy.fail(r'^/api/v1/(volumes|vluns)', times=1)
        self.sim.session_lifetime = 2
        time.sleep(seconds)
        self.sim.session_lifetime = None


class NECOps:
    """Changes to the NEC simulator's array, each under its lock.

    LDs are named as Cinder's NEC driver names them: volumes in the first
    pool, snapshot SVs in the last; an export is the LD's LUN in the LD set
    of the host, named ``<LD name>@<LD set name>`` as the driver reports it.
    """

    # Cinder's NEC driver unmanages by doing nothing (volume_helper.py:
    # unmanage() is ``pass``): the LD keeps its Cinder name, so nothing
    # tells it from a delete that crashed after the row went, and the
    # reconciler confirms it as an array-only volume (every unmanage did,
    # when tried). Cinder leaves no trace to do better with, so unmanage is
    # not churned on NEC backends; see doc/benchmarks.md.
    rename_unmanaged = None

    def __init__(self, array):
        self.sim = array.sim
        self.disk = array.sim.array
        self.names = self.disk.names
        self.volume_pool = array.backend.pools[0]
        self.snapshot_pool = array.backend.pools[-1]

    def add_volume(self, key):
        self.disk.add_ld(self.names.volume(key), self.volume_pool)

    def remove_volume(self, key):
        self.disk.remove_ld(self.names.volume(key))

    def add_snapshot(self, snapshot_id, key):
        self.disk.add_ld(self.names.snapshot(snapshot_id), self.snapshot_pool,
                         rpl='SV', purpose='(invalid attribute)')

    def remove_snapshot(self, snapshot_id):
        self.disk.remove_ld(self.names.snapshot(snapshot_id))

    def add_export(self, key, host):
        self.disk.map(self.names.volume(key), host)

    def remove_export(self, key, host):
        self.disk.unmap(self.names.volume(key), host)

    def export_id(self, key, host):
        return '%s@%s' % (self.names.volume(key), nec.ldset_name(host))

    def fail(self, seconds):
        """SSH drops: open connections cut, then every answer cut short."""
        self.sim.inject(nec.Fault.DROP)
        self.sim.disconnect()
        time.sleep(seconds)
        self.sim.inject(None)


class RBDOps:
    """Changes to a real Ceph pool, each as Cinder's RBD driver makes it.

    Images, protected snapshots and clones through a protected
    ``<dest>.clone_snap`` as cinder/volume/drivers/rbd.py makes them. A
    delete follows the driver's delete_volume: a volume with clone
    snapshots is renamed ``.deleted``; a clone is removed and its parent's
    references cleaned (the clone snapshot unprotected and removed, then a
    ``.deleted`` parent left with no snapshot deleted too, up the chain);
    any other image is removed, or moved into the trash with a delay, at
    random. Under ``enable_deferred_deletion`` Cinder 2024.1 and later
    remove what they can, 2023.2 and earlier trash every delete, and Cinder
    purges its trash itself. Not churned: 2023.2's deferred delete of a
    clone, which trashes it and then cannot unprotect the parent's snapshot
    (ImageBusy: a trashed clone is still a child), and 2024.1's removal of
    a clone, which leaves the parent's clone snapshot for ever (a real
    leak; tests/functional/test_rbd_ceph.py has one). RBD has no exports;
    Cinder's RBD driver unmanages by doing nothing (``unmanage`` is
    ``pass``), so unmanage is not churned, as on NEC.
    """

    rename_unmanaged = None
    export_id = None
    DEFERRED_DELAY = 3600

    def __init__(self, array):
        self.array = array
        self.cinder = array.cinder_rbd
        self.rbd = self.cinder.rbd
        self.lock = threading.Lock()
        self.random = random.Random(array.backend.name)
        self.done = collections.Counter()   # what Cinder's steps did
        keys = {v.id: v.key for v in array.scenario.volumes
                if v.backend == array.backend.name}
        # snapshot id -> its image's name
        self.snap_image = {s.id: self._name(keys[s.volume])
                           for s in array.scenario.snapshots
                           if s.volume in keys}

    @staticmethod
    def _name(key):
        return 'volume-%s' % key

    def add_volume(self, key):
        with self.lock:
            self.cinder.create_volume(self._name(key))

    def clone_volume(self, key, dest):
        with self.lock:
            self.cinder.create_cloned_volume(self._name(dest),
                                             self._name(key))

    def _parent(self, image):
        """``(parent, parent snap)`` of a Cinder clone, else None."""
        try:
            _pool, parent, snap = image.parent_info()
        except self.rbd.ImageNotFound:
            return None
        return (parent, snap) if snap.endswith('.clone_snap') else None

    def _drop(self, name, clone=False):
        """Remove ``name``, or move it into the trash, at random; a clone
        is removed (trashed, its parent's snapshot could not be cleaned).
        """
        if clone or self.random.random() < 0.5:
            self.rbd.RBD().remove(self.cinder.ioctx, name)
            self.done['removed'] += 1
        else:
            self.rbd.RBD().trash_move(self.cinder.ioctx, name,
                                      self.DEFERRED_DELAY)
            self.done['trashed'] += 1

    def remove_volume(self, key):
        name = self._name(key)
        with self.lock:
            with self.cinder.image(name) as image:
                snaps = [s['name'] for s in image.list_snaps()]
                parent = self._parent(image)
            if any(s.endswith('.clone_snap') for s in snaps):
                self.rbd.RBD().rename(self.cinder.ioctx, name,
                                      name + '.deleted')
                self.done['renamed .deleted'] += 1
            elif parent:
                self.rbd.RBD().remove(self.cinder.ioctx, name)
                self.done['clones removed'] += 1
                self._clean_parent(*parent)
            else:
                self._drop(name)

    def _clean_parent(self, parent, snap):
        with self.cinder.image(parent) as image:
            grandparent = self._parent(image)
            image.unprotect_snap(snap)
            image.remove_snap(snap)
            left = list(image.list_snaps())
        self.done['clone_snaps removed'] += 1
        if not left and parent.endswith('.deleted'):
            self._drop(parent, clone=bool(grandparent))
            if grandparent:
                self._clean_parent(*grandparent)

    def add_snapshot(self, snapshot_id, key):
        with self.lock:
            self.snap_image[snapshot_id] = self._name(key)
            self.cinder.create_snapshot(self._name(key),
                                        'snapshot-%s' % snapshot_id)

    def remove_snapshot(self, snapshot_id):
        with self.lock:
            with self.cinder.image(self.snap_image.pop(snapshot_id)) as i:
                i.unprotect_snap('snapshot-%s' % snapshot_id)
                i.remove_snap('snapshot-%s' % snapshot_id)

    def add_export(self, key, host):
        """Attaching an RBD volume changes nothing in the pool."""

    def remove_export(self, key, host):
        """Detaching neither."""

    def fail(self, seconds):
        """The OSD freezes for longer than the driver waits: passes fail
        on the timeout, Cinder's operations wait.
        """
        self.done['OSD frozen'] += 1
        self.array.cluster.pause_osd()
        try:
            time.sleep(self.array.op_timeout + seconds)
        finally:
            self.array.cluster.resume_osd()


_OPS = {'fake': FakeArrayOps, 'hpe3par': HPE3PAROps, 'nec': NECOps,
        'rbd': RBDOps}


def array_ops(array):
    return _OPS[array.driver](array)


@dataclasses.dataclass
class Vol:
    id: str
    backend: str
    key: str
    attached: str | None = None
    snapshots: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Plant:
    identity: tuple
    backend: str
    after_pass: int             # passes the backend had finished at planting
    undo: object                # removes the orphan once it was confirmed
    confirmed_after: int | None = None   # passes it took to confirm
    removed: bool = False


class Churn:
    """The churn driver, the planter, the fault injector and the passes."""

    def __init__(self, cloud, conf, rate=20.0, step_delay=0.05, seed=1,
                 fault_every=2.0, plant_every=3.0, workers=16,
                 retry_delay=0.2, cinder_broker=None, changes_margin=2):
        self.cloud = cloud
        # One clock in the loopback cloud: the default margin (300 s) would
        # keep every listener start (a gap) in view for longer than a run.
        conf.set_override('changes_margin', changes_margin, group='cinder')
        self.cinder_broker = cinder_broker   # None: the listener's transport
        # Cinder's announcements: sent while run() runs.
        self.events = churn_events.Silent()
        self.conf = conf
        self.rate = rate
        self.step_delay = step_delay
        self.random = random.Random(seed)
        self.next_fault = self._faults(seed)
        self.fault_every = fault_every
        self.plant_every = plant_every
        self.workers = workers
        self.retry_delay = retry_delay
        self.ops = {n: array_ops(a) for n, a in cloud.arrays.items()}
        # Only arrays whose clones are not plain new volumes churn them, each
        # as often as a backend gets creates (they grow its pool alike).
        self.cloning = sum(hasattr(o, 'clone_volume')
                           for o in self.ops.values()) / len(self.ops)
        self.lock = threading.Lock()
        self.idle = {}                  # volume id -> Vol, not being churned
        self.stable = collections.defaultdict(list)    # backend -> [Vol]
        for i, v in enumerate(cloud.scenario.volumes):
            vol = Vol(v.id, v.backend, v.key,
                      v.attached_to[0] if v.attached_to else None)
            if i % 5 == 0 and not v.attached_to:
                self.stable[v.backend].append(vol)
            else:
                self.idle[v.id] = vol
        for s in cloud.scenario.snapshots:
            vol = self.idle.get(s.volume)
            if vol is not None:
                vol.snapshots.append(s.id)
        self.counter = collections.Counter()
        self.plants = []
        self.passes = collections.Counter()     # backend -> passes done
        self.failed = collections.Counter()
        self.failed_with_changes = []
        self.false_positives = []
        self.full_reasons = collections.Counter()
        self.notifications = []
        self.stopping = threading.Event()
        self._ids = itertools.count()

    # -- Cinder's operations, step by step --------------------------------

    def pause(self):
        time.sleep(self.random.uniform(0, self.step_delay))

    def _take(self, want):
        with self.lock:
            found = [v for v in self.idle.values() if want(v)]
            if not found:
                return None
            vol = self.random.choice(found)
            del self.idle[vol.id]
            return vol

    def _give(self, vol):
        with self.lock:
            self.idle[vol.id] = vol

    def op_create(self, backend):
        db, ops, say = self.cloud.cinder, self.ops[backend], self.events
        vid = scn.uid('churn-%d' % next(self._ids))
        db.add_volumes([scn.Volume(id=vid, backend=backend,
                                   status='creating')])
        say.volume(backend, 'create.start', vid, 'creating')
        self.pause()
        ops.add_volume(vid)
        self.pause()
        db.update_volume(vid, status='available')
        say.volume(backend, 'create.end', vid, 'available')
        return Vol(vid, backend, vid)

    def op_delete(self, vol):
        db, ops, say = self.cloud.cinder, self.ops[vol.backend], self.events
        db.update_volume(vol.id, status='deleting')
        say.volume(vol.backend, 'delete.start', vol.id, 'deleting')
        self.pause()
        ops.remove_volume(vol.key)
        self.pause()
        db.soft_delete_volume(vol.id)
        say.volume(vol.backend, 'delete.end', vol.id, 'deleted')

    def op_attach(self, vol):
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        host = 'compute-%d' % self.random.randrange(40)
        db.update_volume(vol.id, status='attaching')
        self.events.volume(vol.backend, 'attach.start', vol.id, 'attaching')
        self.pause()
        ops.add_export(vol.key, host)
        self.pause()
        db.add_attachment(vol.id, host)
        db.update_volume(vol.id, status='in-use')
        self.events.volume(vol.backend, 'attach.end', vol.id, 'in-use',
                           attached=(host,))
        vol.attached = host
        return vol

    def op_detach(self, vol):
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        db.update_volume(vol.id, status='detaching')
        self.events.volume(vol.backend, 'detach.start', vol.id, 'detaching',
                           attached=(vol.attached,))
        self.pause()
        ops.remove_export(vol.key, vol.attached)
        self.pause()
        db.remove_attachment(vol.id, vol.attached)
        db.update_volume(vol.id, status='available')
        self.events.volume(vol.backend, 'detach.end', vol.id, 'available')
        vol.attached = None
        return vol

    def op_migrate(self, vol):
        """Generic migration within the backend: a new object, name_id swap.

        Cinder announces no migration: the temporary volume's create and,
        once the ids are swapped, its delete (which removes the old object).
        """
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        say = functools.partial(self.events.volume, vol.backend)
        dest = scn.uid('churn-%d' % next(self._ids))
        db.update_volume(vol.id, migration_status='migrating')
        db.add_volumes([scn.Volume(id=dest, backend=vol.backend,
                                   status='creating',
                                   migration_status='target:%s' % vol.id)])
        say('create.start', dest, 'creating')
        self.pause()
        ops.add_volume(dest)
        db.update_volume(dest, status='available')
        say('create.end', dest, 'available')
        self.pause()
        old = vol.key
        db.finish_migration(vol.id, dest)
        say('delete.start', dest, 'deleting')
        self.pause()
        ops.remove_volume(old)
        self.pause()
        db.soft_delete_volume(dest)
        say('delete.end', dest, 'deleted')
        db.update_volume(vol.id, migration_status='success')
        vol.key = dest
        return vol

    def op_retype(self, vol):
        db = self.cloud.cinder
        status = 'in-use' if vol.attached else 'available'
        db.update_volume(vol.id, status='retyping')
        self.pause()
        db.update_volume(vol.id, status=status)
        self.events.volume(vol.backend, 'retype', vol.id, status)
        return vol

    def op_snapshot(self, vol):
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        sid = scn.uid('churn-snap-%d' % next(self._ids))
        db.add_snapshots([scn.Snapshot(id=sid, volume=vol.id,
                                       status='creating')])
        say = functools.partial(self.events.snapshot, vol.backend)
        say('create.start', sid, vol.id, 'creating')
        self.pause()
        ops.add_snapshot(sid, vol.key)
        self.pause()
        db.update_snapshot(sid, status='available')
        say('create.end', sid, vol.id, 'available')
        vol.snapshots.append(sid)
        return vol

    def op_delete_snapshot(self, vol):
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        sid = vol.snapshots.pop(self.random.randrange(len(vol.snapshots)))
        db.update_snapshot(sid, status='deleting')
        say = functools.partial(self.events.snapshot, vol.backend)
        say('delete.start', sid, vol.id, 'deleting')
        self.pause()
        ops.remove_snapshot(sid)
        self.pause()
        db.soft_delete_snapshot(sid)
        say('delete.end', sid, vol.id, 'deleted')
        return vol

    def op_clone(self, vol):
        """create_cloned_volume: a new row, the array's clone of ``vol``."""
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        dest = scn.uid('churn-%d' % next(self._ids))
        db.add_volumes([scn.Volume(id=dest, backend=vol.backend,
                                   status='creating')])
        self.events.volume(vol.backend, 'create.start', dest, 'creating')
        self.pause()
        ops.clone_volume(vol.key, dest)
        self.pause()
        db.update_volume(dest, status='available')
        self.events.volume(vol.backend, 'create.end', dest, 'available')
        self._give(Vol(dest, vol.backend, dest))
        return vol

    def op_unmanage(self, vol):
        db, ops = self.cloud.cinder, self.ops[vol.backend]
        db.update_volume(vol.id, status='unmanaging')
        self.events.volume(vol.backend, 'unmanage.start', vol.id,
                           'unmanaging')
        self.pause()
        ops.rename_unmanaged(vol.key)
        self.pause()
        db.soft_delete_volume(vol.id)
        self.events.volume(vol.backend, 'unmanage.end', vol.id, 'deleted')

    def one_op(self):
        """A random operation on a random idle volume; False if none fit."""
        def plain(v):
            return not v.attached and not v.snapshots
        choices = (
            ('create', None), ('delete', plain),
            ('attach', lambda v: not v.attached),
            ('detach', lambda v: v.attached), ('migrate', plain),
            ('retype', lambda v: True), ('snapshot', lambda v: True),
            ('delete_snapshot', lambda v: v.snapshots),
            ('unmanage', lambda v: plain(v) and (
                self.ops[v.backend].rename_unmanaged is not None)))
        if self.cloning:
            choices += (('clone', lambda v: hasattr(
                self.ops[v.backend], 'clone_volume')),)
        name, want = self.random.choice(choices)
        if name == 'clone' and self.random.random() >= self.cloning:
            return False
        if want is None:
            vol = self.op_create(self.random.choice(list(self.ops)))
        else:
            taken = self._take(want)
            if taken is None:
                return False
            try:
                vol = getattr(self, 'op_' + name)(taken)
            except BaseException:
                self._give(taken)
                raise
        if vol is not None:
            self._give(vol)
        with self.lock:
            self.counter[name] += 1
        return True

    # -- orphans ------------------------------------------------------------

    def plant(self, backend):
        """One real orphan of every class on ``backend``."""
        db, ops = self.cloud.cinder, self.ops[backend]
        n = next(self._ids)
        with self.lock:
            anchor = self.random.choice(self.stable[backend])
        lone, lost = scn.uid('orphan-vol-%d' % n), scn.uid('lost-vol-%d' % n)
        lone_snap = scn.uid('orphan-snap-%d' % n)
        lost_snap = scn.uid('lost-snap-%d' % n)
        host = '%s-%d' % (ORPHAN_HOST, n)
        ops.add_volume(lone)
        ops.add_snapshot(lone_snap, anchor.key)
        db.add_volumes([scn.Volume(id=lost, backend=backend)])
        db.add_snapshots([scn.Snapshot(id=lost_snap, volume=anchor.id)])
        planted = [((K.ARRAY_ONLY, R.VOLUME, lone),
                    lambda: ops.remove_volume(lone)),
                   ((K.ARRAY_ONLY, R.SNAPSHOT, lone_snap),
                    lambda: ops.remove_snapshot(lone_snap)),
                   ((K.CINDER_ONLY, R.VOLUME, lost),
                    lambda: self._cinder_delete(backend, lost)),
                   ((K.CINDER_ONLY, R.SNAPSHOT, lost_snap),
                    lambda: self._cinder_delete(backend, lost_snap,
                                                anchor.id))]
        if ops.export_id is not None:   # an array with exports (not RBD)
            ops.add_export(anchor.key, host)
            planted.append(((K.ORPHAN_EXPORT, R.EXPORT,
                             ops.export_id(anchor.key, host)),
                            lambda: ops.remove_export(anchor.key, host)))
        done = self.passes[backend]
        with self.lock:
            self.plants += [Plant(identity(*i), backend, done, undo)
                            for i, undo in planted]

    def _cinder_delete(self, backend, resource_id, volume_id=None):
        """The operator's ``cinder delete`` of a confirmed Cinder-only
        row (a snapshot's if ``volume_id``): Cinder announces it.
        """
        db = self.cloud.cinder
        if volume_id is None:
            self.events.volume(backend, 'delete.start', resource_id,
                               'deleting')
            db.soft_delete_volume(resource_id)
            self.events.volume(backend, 'delete.end', resource_id,
                               'deleted')
        else:
            say = functools.partial(self.events.snapshot, backend)
            say('delete.start', resource_id, volume_id, 'deleting')
            db.soft_delete_snapshot(resource_id)
            say('delete.end', resource_id, volume_id, 'deleted')

    def clean_and_plant(self, backend):
        """Remove the orphans already confirmed, then plant new ones.

        An operator deletes what was confirmed, so the count of live
        orphans (each re-checked by every pass) stays small.
        """
        with self.lock:
            done = [p for p in self.plants
                    if p.confirmed_after is not None and not p.removed]
        for p in done:
            p.undo()
            p.removed = True
        self.plant(backend)

    # -- faults ------------------------------------------------------------

    FAULTS = ('cinder-page', 'cinder-drop', 'cinder-token', 'array',
              'broker', 'database', 'events-lost', 'events-late',
              'listener-restart')

    def _faults(self, seed):
        """Every fault once a round, each round in its own order."""
        rounds = random.Random(seed)
        while True:
            yield from rounds.sample(self.FAULTS, len(self.FAULTS))

    def fault(self):
        proxy = self.cloud.proxy
        which = next(self.next_fault)
        if which == 'events-lost':
            # Cinder's notifier gives up on a broker it cannot reach.
            self.events.lose(1.0)
        elif which == 'events-late':
            self.events.late(1.5)
        elif which == 'listener-restart':
            self.events.restart(1.0)
        elif which == 'broker':
            # The broker refuses every send for a while: events wait.
            self.notifier.down_until = time.monotonic() + 1.5
        elif which == 'database':
            threading.Thread(target=self._lock_history, args=(1.0,)).start()
        elif which == 'cinder-page':
            proxy.fail(r'/(volumes|snapshots)/detail\?.*marker=', times=1)
        elif which == 'cinder-drop':
            proxy.drop(r'/volumes/detail\?.*marker=', times=1)
        elif which == 'cinder-token':
            # What keystonemiddleware answers once a token has expired.
            proxy.fail(r'/volumes/detail', status=401, times=1)
        else:
            self.ops[self.random.choice(list(self.ops))].fail(0.3)
        with self.lock:
            self.counter['fault:' + which] += 1

    def _lock_history(self, seconds):
        """Another writer holds the SQLite history for ``seconds``."""
        url = self.conf.reconciler_database.connection
        db = sqlite3.connect(url.split(':///', 1)[1], timeout=30,
                             isolation_level=None)
        try:
            db.execute('BEGIN EXCLUSIVE')
            time.sleep(seconds)
            db.execute('ROLLBACK')
        finally:
            db.close()

    # -- the passes ----------------------------------------------------------

    def record(self, backend, report, reason=None):
        """Count one pass; ``reason``: why it listed Cinder in full."""
        with self.lock:
            self.passes[backend] += 1
            done = self.passes[backend]
            if report.inventory.get('cinder_full_listing') == 0:
                self.counter['listing:changes'] += 1
            elif report.status == model.RunStatus.OK:
                self.counter['listing:full'] += 1
                self.full_reasons[reason] += 1
            if report.inventory.get('array_full_listing') == 0:
                # The array's own steady listing (RBD: changed headers).
                self.counter['array listing:steady'] += 1
                self.counter['array listing:steady reads'] += (
                    report.inventory.get('array_read_in_full') or 0)
            elif report.inventory.get('array_read_in_full') is not None:
                self.counter['array listing:full'] += 1
                self.counter['array listing:full reads'] += (
                    report.inventory['array_read_in_full'])
            if report.status != model.RunStatus.OK:
                self.failed[backend] += 1
                if report.transitions or report.candidates:
                    self.failed_with_changes.append((backend, report.error))
                return
            planted = {p.identity: p for p in self.plants
                       if p.backend == backend}
            for t in report.transitions:
                if t.new_state != model.FindingState.CONFIRMED:
                    continue
                plant = planted.get(identity(*t.candidate.identity))
                if plant is None:
                    self.false_positives.append((backend, t.candidate))
                elif plant.confirmed_after is None:
                    plant.confirmed_after = done - plant.after_pass

    def pass_loop(self, backend, store, notifier, until):
        reconciler = manager.BackendReconciler(self.conf, backend, store,
                                               notifier)
        while not until():
            report = reconciler.run_pass()
            notifier.flush(store)  # the daemon's flusher, woken by the pass
            self.record(backend.name, report, reconciler.cinder_cache.reason)
            if report.status != model.RunStatus.OK:
                # The daemon waits for its next interval; a tight loop would
                # count hundreds of passes against one fault.
                time.sleep(self.retry_delay)

    def _every(self, seconds, action):
        while not self.stopping.wait(seconds):
            action()

    def churn_loop(self, pool):
        interval, due, running = 1.0 / self.rate, time.monotonic(), []
        while not self.stopping.is_set():
            for f in [f for f in running if f.done()]:
                f.result()
            running = [f for f in running if not f.done()]
            # While an array stalls (a frozen OSD) its operations hold the
            # workers: no more queue up behind them (this loop holds one).
            if len(running) < self.workers - 1:
                running.append(pool.submit(self.one_op))
            else:
                self.counter['skipped: workers busy'] += 1
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
        return running

    def run(self, passes, settle_passes=3):
        """Churn until ``passes`` passes ran, then settle; the report."""
        store = history_mod.History.from_conf(self.conf)
        store.sync()
        notifier = self.notifier = _RecordingNotifier(self.conf,
                                                      self.notifications)
        backends = backend_conf.enabled(self.conf)
        self.events = churn_events.CinderAnnouncer(
            self.conf, store, backends, url=self.cinder_broker)
        try:
            self.events.start_listener()
            # As in a daemon up for longer than the margin: its listener's
            # start is no gap to the passes (a restart will be).
            time.sleep(self.conf.cinder.changes_margin + 1)
            return self._run(store, notifier, backends, passes,
                             settle_passes)
        finally:
            self.events.close()
            self.events = churn_events.Silent()

    def _run(self, store, notifier, backends, passes, settle_passes):
        # Backends take their turn at orphans, the first before any pass, so
        # that even a short run plants on each.
        turns = itertools.cycle([b.name for b in backends])
        self.clean_and_plant(next(turns))
        start = time.monotonic()
        threads = [threading.Thread(target=self.pass_loop, args=(
            b, store, notifier,
            lambda: sum(self.passes.values()) >= passes)) for b in backends]
        for t in threads:
            t.start()
        helpers = [threading.Thread(target=self._every, args=(
            self.plant_every, lambda: self.clean_and_plant(next(turns)))),
            threading.Thread(target=self._every,
                             args=(self.fault_every, self.fault))]
        for h in helpers:
            h.start()
        with futures.ThreadPoolExecutor(self.workers) as pool:
            churner = pool.submit(self.churn_loop, pool)
            for t in threads:
                t.join()
            self.stopping.set()
            for f in churner.result():
                f.result()
        for h in helpers:
            h.join()
        churn_seconds = time.monotonic() - start
        churn_ops = sum(v for k, v in self.counter.items()
                        if not k.startswith(('fault:', 'listing:',
                                             'skipped:')))
        # Nothing moves now: the last plants get their passes, with every
        # late event delivered and every one not lost recorded.
        self.events.settle()
        self.cloud.proxy.clear()
        for array in self.cloud.arrays.values():
            if array.proxy:
                array.proxy.clear()
        for b in backends:
            reconciler = manager.BackendReconciler(self.conf, b, store,
                                                   notifier)
            for _ in range(settle_passes):
                self.record(b.name, reconciler.run_pass(),
                            reconciler.cinder_cache.reason)
        # The broker is back: every event is delivered, at least once.
        notifier.down_until = 0.0
        notifier.flush(store)
        notifier.close()
        return self.report(store, churn_seconds, churn_ops)

    def report(self, store, seconds, ops):
        planted = {p.identity for p in self.plants}
        confirmed = [p for p in self.plants if p.confirmed_after is not None]
        taken = collections.Counter(p.confirmed_after for p in confirmed)
        stray = [n for n in self.notifications
                 if n[0] == 'reconciler.orphan.detected'
                 and n[1] not in planted]
        recorded = self.events.recorded()
        stray_findings = [f for f in store.findings(
            state=model.FindingState.CONFIRMED)
            if identity(f.kind, f.resource_type, f.resource_id) not in planted]
        return {
            'passes': sum(self.passes.values()),
            'passes_per_backend': dict(self.passes),
            'ok_passes': sum(self.passes.values()) - sum(self.failed.values()),
            'failed_passes': sum(self.failed.values()),
            'failed_passes_with_changes': len(self.failed_with_changes),
            'churn_seconds': round(seconds, 1),
            'churn_ops': ops,
            'churn_ops_per_second': round(ops / seconds, 1),
            'operations': dict(self.counter),
            'array_operations': {n: dict(o.done) for n, o in self.ops.items()
                                 if hasattr(o, 'done')},
            'planted': len(self.plants),
            'planted_per_backend': dict(collections.Counter(
                p.backend for p in self.plants)),
            'confirmed': len(confirmed),
            'recall': len(confirmed) / len(self.plants) if self.plants else 1,
            'passes_to_confirm': dict(sorted(taken.items())),
            # Ok passes that listed Cinder in full / only what changed.
            'full_listing_passes': self.counter['listing:full'],
            'incremental_passes': self.counter['listing:changes'],
            'false_positive_transitions': [
                '%s %s' % (b, c.identity) for b, c in self.false_positives],
            'false_positive_notifications': [str(n) for n in stray],
            'false_positive_findings': [
                '%s %s %s' % (f.backend, f.kind, f.resource_id)
                for f in stray_findings],
            'full_listing_reasons': dict(self.full_reasons),
            'cinder_events': dict(self.events.counter, recorded=recorded),
            # Sent, not dropped by a fault, and still not in history.
            'cinder_events_unrecorded': max(0, self.events.counter[
                'events sent'] - self.events.counter['events lost']
                - recorded),
            'notifications': len(self.notifications),
            'undelivered_notifications': len(store.pending_notifications()),
            'notifications_sent_twice': sum(
                n > 1 for n in collections.Counter(
                    self.notifier.event_ids).values()),
        }


class _RecordingNotifier(notifier_mod.Notifier):
    """The daemon's notifier, keeping what it sent for the report.

    Until ``down_until`` (monotonic), every send fails as one the broker
    refused does: the event must stay in the outbox and arrive later.
    """

    def __init__(self, conf, sent):
        super().__init__(conf)
        self.sent = sent
        self.event_ids = []
        self.down_until = 0.0

    def _send(self, event_type, payload):
        if time.monotonic() < self.down_until:
            raise oslo_messaging.MessageDeliveryFailure(
                'broker down (injected)')
        super()._send(event_type, payload)
        self.event_ids.append(payload['event_id'])
        self.sent.append((event_type, identity(
            payload.get('kind'), payload.get('resource_type'),
            payload.get('resource_id'))))


def start_cloud(workdir, volumes=200, drivers=('fake', 'hpe3par', 'nec'),
                page_size=25, rbd_timeout=3):
    """A small loopback cloud whose listings span several pages.

    RBD backends wait ``rbd_timeout`` seconds for a frozen OSD.
    """
    cloud = loopback.LoopbackCloud(
        workdir, loopback.synthetic(volumes, drivers, snapshot_every=7,
                                    attach_every=6), page_size=page_size)
    for array in cloud.arrays.values():
        if array.driver == 'rbd':
            array.op_timeout = rbd_timeout
    return cloud
