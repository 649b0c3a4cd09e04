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

"""The daemon's pass over a Ceph RBD backend: real cinder-api, real Ceph.

A single-node cluster from Debian's packages (tests/ceph_fixtures.py) is
seeded once per class the way Cinder's RBD and Ceph backup drivers leave a
pool, and read through the ``rbd`` binding and through the ``rbd`` command
line, cephx off and on. The failures are the cluster's own: a monitor that
is gone, a pool that is not there, a user or key the monitor refuses, and
an OSD that stops answering half-way through the listing.
"""

import os
import time

from reconciler.drivers import rbd_client
from reconciler import manager
from reconciler import model
from reconciler.simulators import scenario as scn
from tests import ceph_fixtures
from tests.functional import fixtures

uid = scn.uid
K = model.FindingKind
R = model.ResourceType
S = model.FindingState
C = model.ObjectClass
BACKEND = 'rbd1'
POOL = 'volumes'
BACKUP_POOL = 'backups'
# Bounds every Ceph wait in the failure tests (rados_connect_timeout).
TIMEOUT = 3


def volume(label):
    return 'volume-%s' % uid(label)


def ceph_scenario():
    s = scn.planted(BACKEND, 'rbd', [POOL], host='host-r',
                    foreign='glance-image-1', migrated_attached=True)
    # A volume whose delete failed once its clone's parent reference was
    # to go: it waits in the trash, its row in error_deleting.
    s.volumes.append(scn.Volume(id=uid('stuck'), backend=BACKEND,
                                status='error_deleting', on_array=False))
    return s


def seed(cluster, scenario):
    """Lay out the scenario's pool as Cinder would have; the trash ids."""
    cinder = ceph_fixtures.CinderRBD(cluster, POOL)
    contents = scenario.array_contents(BACKEND)
    clones = {uid('v4'): uid('v5'), uid('v6'): uid('kept-parent')}
    for obj in contents:
        if obj.kind == 'volume' and obj.uuid not in clones and (
                obj.uuid != uid('v3')):
            cinder.create_volume(obj.name or volume_name(obj.uuid),
                                 obj.size)
    for obj in contents:
        if obj.kind == 'snapshot':
            cinder.create_snapshot(volume_name(obj.parent),
                                   'snapshot-%s' % obj.uuid)
    # create_cloned_volume: v4 of v5; v6 of a volume deleted since, whose
    # image is kept as .deleted for it.
    cinder.create_volume(volume('kept-parent'))
    for dest, src in sorted(clones.items()):
        cinder.create_cloned_volume(volume_name(dest), volume_name(src))
    cinder.delete_volume(volume('kept-parent'))
    # create_volume_from_snapshot: v3 of v0@snapshot-s0.
    cinder.clone(volume('v0'), 'snapshot-%s' % uid('s0'), volume('v3'))
    # A parent deleted while its clone lived; the clone went since by the
    # plain remove, which leaves the parent for ever.
    cinder.create_volume(volume('dead-parent'))
    cinder.create_cloned_volume(volume('gone'), volume('dead-parent'))
    cinder.delete_volume(volume('dead-parent'))
    cinder.delete_volume(volume('gone'))
    # A parent deleted while its clone lives in the trash: the clone's
    # delete could not remove it (a snapshot of someone's on it).
    cinder.create_volume(volume('trash-parent'))
    cinder.create_cloned_volume(volume('stuck'), volume('trash-parent'))
    cinder.create_snapshot(volume('stuck'), 'before-upgrade', protect=False)
    cinder.delete_volume(volume('trash-parent'))
    cinder.delete_volume(volume('stuck'))
    # Deleted volumes that could not be removed (an operator's snapshot
    # on them): trashed with no delay, and with deferred deletion's.
    for label, delay in (('trashed', None), ('trashed-later', 3600)):
        cinder.create_volume(volume(label))
        cinder.create_snapshot(volume(label), 'operator-snap', protect=False)
        cinder.delete_volume(volume(label), deferred_delay=delay)
    cinder.create_volume('someone-elses-image')
    cinder.rbd.RBD().trash_move(cinder.ioctx, 'someone-elses-image', 0)
    # The Ceph backup driver: a source snapshot on v1, and its base images
    # (in the backup pool, and in this pool where the two are one).
    backup = ceph_fixtures.CinderRBD(cluster, BACKUP_POOL)
    for pool in (cinder, backup):
        base = volume('v1') + '.backup.base'
        pool.create_volume(base)
        pool.backup_snapshot(base, uid('backup-1'))
        pool.create_volume('%s.backup.%s' % (volume('v2'), uid('backup-2')))
    cinder.backup_snapshot(volume('v1'), uid('backup-1'))
    # Someone else's format 2 clone of v7, whose snapshot was removed:
    # the snapshot lives on in the trash namespace, where only the
    # binding's list_snaps sees it, under a UUID for a name.
    cluster.mon_command({'prefix': 'osd set-require-min-compat-client',
                         'version': 'mimic'})
    v2 = ceph_fixtures.CinderRBD(cluster, POOL, clone_format=2)
    v2.create_snapshot(volume('v7'), 'scratch', protect=False)
    cluster.rbd.RBD().remove(cinder.ioctx, 'glance-image-1')
    v2.clone(volume('v7'), 'scratch', 'glance-image-1')
    with v2.image(volume('v7')) as image:
        image.remove_snap('scratch')
    return cinder.trash_entries()


def volume_name(key):
    return 'volume-%s' % key


def planted(trash):
    found = {
        (K.CINDER_ONLY, R.VOLUME, uid('lost')),
        (K.CINDER_ONLY, R.SNAPSHOT, uid('lost-snap')),
        (K.ARRAY_ONLY, R.VOLUME, uid('leak')),
        (K.ARRAY_ONLY, R.SNAPSHOT, uid('leak-snap')),
        (K.ARRAY_ONLY, R.VOLUME, uid('trashed')),
        (K.ARRAY_ONLY, R.VOLUME, uid('trashed-later')),
        (K.FOREIGN, R.VOLUME, 'glance-image-1'),
        (K.FOREIGN, R.VOLUME, 'someone-elses-image (trash %s)'
         % trash['someone-elses-image'])}
    return found


class CephTestCase(fixtures.DriverPassTestCase):
    """A cluster seeded once per class; the binding unless ``CLI``."""

    BACKEND = BACKEND
    HOST = 'host-r'
    CEPHX = False
    CLI = False
    make_scenario = staticmethod(ceph_scenario)

    @classmethod
    def setUpClass(cls):
        ceph_fixtures.check_available()
        cls.ceph = ceph_fixtures.CephCluster(cephx=cls.CEPHX,
                                             pools=(POOL, BACKUP_POOL))
        cls.ceph.setUp()
        try:
            cls.trash = seed(cls.ceph, ceph_scenario())
            if cls.CEPHX:
                cls.ceph.add_user('cinder', POOL)
            super().setUpClass()
        except BaseException:
            cls.ceph.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.ceph.cleanUp()

    def start_array(self):
        options = {'volume_driver': 'cinder.volume.drivers.rbd.RBDDriver',
                   'rbd_pool': POOL, 'rbd_ceph_conf': self.ceph.conf,
                   'rados_connect_timeout': str(TIMEOUT)}
        if self.CEPHX:
            options['rbd_user'] = 'cinder'
        if self.CLI:
            options['reconciler_rbd_command'] = 'rbd'
        return options

    def setUp(self):
        super().setUp()
        self.driver_client = None
        real = rbd_client.connect

        def connect(backend):
            self.driver_client = real(backend)
            return self.driver_client
        self.useFixture(fixtures.fixtures.MonkeyPatch(
            'reconciler.drivers.rbd_client.connect', connect))

    def use_cli(self):
        self.CLI = True
        self.values.load_raw_values(group=BACKEND,
                                    reconciler_rbd_command='rbd')

    def assert_exact(self, report, deferred=False, in_flight=0):
        self.assertEqual(model.RunStatus.OK, report.status, report.error)
        self.assertIsInstance(self.driver_client,
                              rbd_client.CLIClient if self.CLI
                              else rbd_client.BindingClient)
        expected = planted(self.trash)
        if deferred:
            expected -= {(K.ARRAY_ONLY, R.VOLUME, uid('trashed')),
                         (K.ARRAY_ONLY, R.VOLUME, uid('trashed-later'))}
            # The error_deleting row's image is a trash entry Cinder purges
            # by itself: no image under its name is left, and the row is
            # reported (its status in the details) as safe to delete again.
            expected.add((K.CINDER_ONLY, R.VOLUME, uid('stuck')))
        # A .deleted parent without clone: a stale temporary, suspected
        # for its own grace period (a day).
        dead = (K.STALE_TEMPORARY, R.VOLUME,
                volume('dead-parent') + '.deleted')
        self.assertEqual(expected | {dead},
                         {c.identity for c in report.candidates})
        self.assertEqual({k: S.CONFIRMED for k in expected}
                         | {dead: S.SUSPECTED}, self.findings())
        # clone_snaps: of v5 (for v4) and of the three .deleted parents;
        # the .deleted parents of v6 and of the trashed clone; v1's backup
        # snapshot and the base image's; the two .backup. images. The
        # volume in error_deleting is compared: its object is still there
        # (in the trash, or its trashed image), so it is no finding.
        skipped = {'temporary snapshot': 4, 'temporary volume': 2,
                   'replica snapshot': 2, 'replica volume': 2,
                   'volume creating': 1}
        if deferred:    # the three trash entries
            skipped['temporary volume'] += 3
        # librbd's own trash entries
        skipped['temporary volume'] += in_flight
        self.assertEqual(skipped, report.skipped)
        # v0..v7, the migrated image under its name_id, and (without
        # deferred deletion) the trashed image of the error_deleting one
        self.assertEqual(9 if deferred else 10, report.consistent['volume'])
        self.assertEqual(2, report.consistent['snapshot'])
        self.assertEqual(uid('dead-parent'), [
            c.cinder_id for c in report.candidates if c.identity == dead][0])

    def assert_fails_cleanly(self, pattern, within=TIMEOUT + 10):
        """The pass fails, within the timeouts, and changes nothing."""
        before = self.findings()
        start = time.monotonic()
        report = self.run_pass()
        seconds = time.monotonic() - start
        self.assertEqual(model.RunStatus.FAILED, report.status)
        self.assertRegex(report.error, pattern)
        self.assertEqual([], report.candidates)
        self.assertEqual(before, self.findings())
        self.assertLess(seconds, within, report.error)
        return report


class CephPassTest(CephTestCase):
    """cephx off, through the binding."""

    def test_pass_is_exact_for_every_class(self):
        self.assert_exact(self.run_pass())

    def test_deferred_deletion_makes_trash_temporary(self):
        self.values.load_raw_values(group=BACKEND,
                                    enable_deferred_deletion='true')
        self.assert_exact(self.run_pass(), deferred=True)

    def test_steady_passes_reuse_unchanged_headers(self):
        """The daemon's passes (one reconciler): the binding reads every
        header on the first pass and on one in
        reconciler_full_listing_passes, then only changed ones (none
        here); the command line reads in full every time. A failed pass
        makes the next read in full. Every pass is exact.
        """
        self.values.load_raw_values(group=BACKEND,
                                    reconciler_full_listing_passes='3')
        # Seeded long before: no row changed within the margin, so Cinder's
        # changes name no image to read again.
        self.values.load_raw_values(group='cinder', changes_margin='1')
        reconciler = manager.BackendReconciler(self.conf, self.backend,
                                               self.store, self.notifier)
        reports = []
        for n in range(6):
            if n == 2:
                self.values.load_raw_values(group=BACKEND,
                                            rbd_pool='no-such-pool')
                self.assertEqual(model.RunStatus.FAILED,
                                 reconciler.run_pass().status)
                self.values.load_raw_values(group=BACKEND, rbd_pool=POOL)
            reports.append(reconciler.run_pass())
            self.notifier.flush(self.store)
            self.assert_exact(reports[-1])
        full = [r.inventory['array_full_listing'] for r in reports]
        read = [r.inventory['array_read_in_full'] for r in reports]
        if self.CLI:
            self.assertEqual([1] * 6, full)
        else:
            self.assertEqual([1, 0, 1, 0, 0, 1], full)
            self.assertEqual([0] * 3, read[1:2] + read[3:5])
            self.assertEqual({read[0]}, {read[2], read[5]})

    def test_missing_pool_fails_the_pass(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.values.load_raw_values(group=BACKEND, rbd_pool='no-such-pool')
        self.assert_fails_cleanly('No such file or directory' if self.CLI
                                  else 'pool no-such-pool')

    def test_osd_stopping_mid_listing_times_out(self):
        """The images are listed, then the OSD stops answering: the trash
        listing's wait ends after the op timeout, not never.
        """
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.addCleanup(self.ceph.resume_osd)
        if self.CLI:
            wrapper = os.path.join(self.ceph.dir, 'rbd-pausing')
            with open(wrapper, 'w') as f:
                f.write('#!/bin/sh\ncase " $* " in *" trash "*) '
                        'kill -STOP %d;; esac\nexec rbd "$@"\n'
                        % self.ceph.processes['osd'].pid)
            os.chmod(wrapper, 0o755)
            self.values.load_raw_values(group=BACKEND,
                                        reconciler_rbd_command=wrapper)
        else:
            real = rbd_client.BindingClient.trash

            def trash(client):
                self.ceph.pause_osd()
                return real(client)
            self.useFixture(fixtures.fixtures.MonkeyPatch(
                'reconciler.drivers.rbd_client.BindingClient.trash', trash))
        self.assert_fails_cleanly('timed out|timeout')

    def test_monitor_down_fails_the_pass(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        self.ceph.stop_monitor()
        self.addCleanup(self.ceph.start_monitor)
        self.assert_fails_cleanly("couldn't connect|timed out")

    def test_migration_under_way(self):
        """``rbd migration prepare`` of v4 in place: the source waits in
        the trash (source MIGRATION) beside the new v4. The command line
        shows a temporary entry; Ceph 16.2's binding cannot decode it.
        """
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        ioctx = self.ceph.ioctx(POOL)
        api = self.ceph.rbd.RBD()
        api.migration_prepare(ioctx, volume('v4'), ioctx, volume('v4'))
        self.addCleanup(api.migration_abort, ioctx, volume('v4'))
        if self.CLI:
            self.assert_exact(self.run_pass(), in_flight=1)
        else:
            self.assert_fails_cleanly(
                r'rbd trash_list: malformed entry \(IndexError')


class CephCLIPassTest(CephPassTest):
    """cephx off, through the ``rbd`` command line."""

    CLI = True


class CephxPassTest(CephTestCase):
    """cephx on: Cinder's ``client.cinder`` (``profile rbd``) reads the
    pool through either path, its key in the keyring the configuration
    names; a user or key the monitor refuses fails the pass.
    """

    CEPHX = True

    def test_binding_pass_is_exact(self):
        self.assert_exact(self.run_pass())

    def test_cli_pass_with_deferred_deletion_is_exact(self):
        self.use_cli()
        self.values.load_raw_values(group=BACKEND,
                                    enable_deferred_deletion='true')
        self.assert_exact(self.run_pass(), deferred=True)

    def test_unknown_user_fails_the_pass(self):
        self.values.load_raw_values(group=BACKEND, rbd_user='glance')
        self.assert_fails_cleanly('Ceph cluster ceph: .*error connecting')
        self.use_cli()
        self.assert_fails_cleanly("rbd exited .*couldn't connect")

    def test_wrong_key_fails_the_pass(self):
        self.assertEqual(model.RunStatus.OK, self.run_pass().status)
        keyring = self.ceph.keyring_path('cinder')
        with open(keyring) as f:
            good = f.read()
        self.addCleanup(_write, keyring, good)
        key = good.split('key = ')[1].split()[0]
        _write(keyring, good.replace(key, ceph_fixtures._secret()))
        self.assert_fails_cleanly('Ceph cluster ceph: .*error connecting')
        self.use_cli()
        self.assert_fails_cleanly("rbd exited .*couldn't connect")
        # Nothing of the key reaches the error.
        self.assertNotIn(key, self.run_pass().error)


def _write(path, text):
    with open(path, 'w') as f:
        f.write(text)
