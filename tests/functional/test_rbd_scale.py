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

"""RBD listings from header objects, checked against librbd on real Ceph.

The binding client reads each image's header object with librados
(rbd_header.py) instead of opening the image, and steady passes read a
header again only when its version changed. Both must give exactly the
view that opening every image with librbd gives: the pool seeded as in
test_rbd_ceph (snapshots, clones of both formats, trash, ``.deleted``
parents, backups, a snapshot in the trash namespace) plus a group snapshot
and the clone ties a header read cannot see, compared image by image; and
each operation Cinder or an operator performs, applied between a listing
and the next, shows up in the steady listing.
"""

from oslotest import base

from reconciler.drivers import rbd
from reconciler.drivers import rbd_header
from reconciler.inventory import incremental
from tests import ceph_fixtures
from tests.functional import test_rbd_ceph
from tests.unit.drivers import test_nec

POOL = test_rbd_ceph.POOL
OTHER = test_rbd_ceph.BACKUP_POOL
STEADY = 'steady'
GIB = 1024 ** 3


def volume(label):
    return test_rbd_ceph.volume(label)


def seed_more(cluster):
    """What test_rbd_ceph's pool lacks: a group snapshot (group
    namespace), a resized image with several snapshots, and ``.deleted``
    parents no listed head refers to: one cloned into another pool
    (format 2), one whose clone was flattened after a snapshot of the
    clone was taken (format 1; librbd counts it no child any more).
    """
    cinder = ceph_fixtures.CinderRBD(cluster, POOL)
    v2 = ceph_fixtures.CinderRBD(cluster, POOL, clone_format=2)
    other = ceph_fixtures.CinderRBD(cluster, OTHER, clone_format=2)
    group = 'group-%s' % test_rbd_ceph.uid('group')
    rbd = cluster.rbd
    rbd.RBD().group_create(cinder.ioctx, group)
    rbd.Group(cinder.ioctx, group).add_image(cinder.ioctx, volume('v1'))
    rbd.Group(cinder.ioctx, group).create_snap('group-snap')
    cinder.create_volume(volume('many'))
    for n in range(3):
        cinder.create_snapshot(volume('many'), 'snap-%d' % n, protect=n == 0)
    with cinder.image(volume('many')) as image:
        image.resize(3 * GIB)
    # Format 2 clone in the other pool of a parent deleted since.
    v2.create_volume(volume('far-parent'))
    v2.create_snapshot(volume('far-parent'),
                       volume('far-clone') + '.clone_snap')
    rbd.RBD().clone(v2.ioctx, volume('far-parent'),
                    volume('far-clone') + '.clone_snap', other.ioctx,
                    volume('far-clone'), features=v2.features)
    cinder.delete_volume(volume('far-parent'))
    # Format 1 clone flattened with a snapshot of its own taken before.
    cinder.create_volume(volume('tied-parent'))
    cinder.create_cloned_volume(volume('tied'), volume('tied-parent'))
    cinder.create_snapshot(volume('tied'), 'before-flatten', protect=False)
    cinder.flatten(volume('tied'))
    cinder.delete_volume(volume('tied-parent'))


class HeaderListingTest(base.BaseTestCase):
    """One cluster for the class; the steady listings use a pool of their
    own, so that their counts are only their changes'.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ceph_fixtures.check_available()
        cls.ceph = ceph_fixtures.CephCluster(pools=(POOL, OTHER, STEADY))
        cls.ceph.setUp()
        try:
            test_rbd_ceph.seed(cls.ceph, test_rbd_ceph.ceph_scenario())
            seed_more(cls.ceph)
        except BaseException:
            cls.ceph.cleanUp()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.ceph.cleanUp()
        finally:
            super().tearDownClass()

    def driver(self, pool=POOL, cleanup=True, **options):
        [backend] = test_nec.make_backend(self, {'rbd1': dict(
            volume_driver='cinder.volume.drivers.rbd.RBDDriver',
            rbd_pool=pool, rbd_ceph_conf=self.ceph.conf,
            rados_connect_timeout='10', **options)})
        driver = backend.create_driver()
        driver.open()
        if cleanup:
            self.addCleanup(driver.close)
        return driver

    def assertSameView(self, expected, view):
        """Image by image, snapshots and trash entries included."""
        self.assertEqual({o.name: o for o in expected.objects},
                         {o.name: o for o in view.objects})
        self.assertEqual(expected.objects, view.objects)

    def test_listing_equals_opening_every_image(self):
        for deferred in ('false', 'true'):
            driver = self.driver(enable_deferred_deletion=deferred)
            view = driver.list_objects()
            counts = dict(driver.client.counts)
            reference = driver.list_objects_opening_each()
            self.assertSameView(reference, view)
            images = {o.name for o in view.objects if o.kind == 'volume'
                      and ' (trash ' not in o.name}
            # Every header decoded: no image opened; only the .deleted
            # parents no listed head refers to were asked for children
            # (librbd): the one whose clone went (a leak), the one whose
            # clone is in the trash, the one cloned into another pool and
            # the one whose clone was flattened.
            self.assertEqual({'header read': len(images), 'other': 2,
                              'children': 4}, counts)
            self.assertTrue(view.full_listing)
            self.assertEqual(len(images), view.read_in_full)
        # A .deleted parent without clone is a stale temporary: held by
        # its deleted volume alone.
        by_class = {o.name: (str(o.object_class), o.held_by is not None)
                    for o in view.objects}
        for name, cls in (
                (volume('dead-parent') + '.deleted', ('temporary', True)),
                (volume('trash-parent') + '.deleted', ('temporary', False)),
                (volume('far-parent') + '.deleted', ('temporary', False)),
                (volume('tied-parent') + '.deleted', ('temporary', True)),
                (volume('kept-parent') + '.deleted', ('temporary', False)),
                (volume('many') + '@snap-2', ('foreign', False))):
            self.assertEqual(cls, by_class[name], name)
        self.assertNotIn('group-snap', ' '.join(by_class))
        sizes = {o.name: o.size_gib for o in view.objects}
        self.assertEqual(3, sizes[volume('many')])
        self.assertEqual(1, sizes[volume('many') + '@snap-0'])

    def test_header_that_does_not_decode_is_opened(self):
        driver = self.driver()
        real = rbd_header.decode
        self.patch(rbd_header, 'decode', lambda values: (
            None if values['size'] and 'snapshot_' in ''.join(values)
            else real(values)))
        view = driver.list_objects()
        opened = driver.client.counts['open']
        self.assertGreater(opened, 5)
        self.assertEqual(opened + driver.client.counts['header read'],
                         view.read_in_full)
        self.assertSameView(driver.list_objects_opening_each(), view)

    def test_what_another_pool_read_is_not_reused(self):
        cache = incremental.ArrayCache(12)
        self.driver(pool=OTHER).list_objects_reusing(cache)
        self.assertIsNone(cache.full_reason())
        driver = self.driver()
        view = driver.list_objects_reusing(cache)
        self.assertTrue(view.full_listing)
        self.assertEqual(rbd.OTHER_POOL, cache.reason)
        self.assertEqual(0, driver.client.counts['header stat'])
        self.assertSameView(driver.list_objects_opening_each(), view)

    # -- steady listings ---------------------------------------------------

    def steady(self):
        self.cinder = ceph_fixtures.CinderRBD(self.ceph, STEADY)
        self.v2 = ceph_fixtures.CinderRBD(self.ceph, STEADY, clone_format=2)
        self.cache = incremental.ArrayCache(1000)
        self.listing()

    def listing(self, **options):
        """A steady listing, checked equal to a full one; its reads."""
        # Closed at once: a test lists some 30 times, and as many live
        # librados clients (threads each) at once are no daemon's shape.
        driver = self.driver(pool=STEADY, cleanup=False, **options)
        try:
            view = driver.list_objects_reusing(self.cache)
            opened = driver.list_objects_opening_each()
            counts = driver.client.counts
        finally:
            driver.close()
        self.assertSameView(opened, view)
        return view, counts

    def assertReads(self, header_reads, operation, *args, reread=()):
        operation(*args)
        self.cache.reread = frozenset(reread)
        view, counts = self.listing()
        self.assertFalse(view.full_listing)
        self.assertEqual(header_reads, counts['header read'],
                         (operation, args))
        self.assertEqual(header_reads, view.read_in_full)

    def rbd(self, method, *args):
        getattr(self.cinder.rbd.RBD(), method)(self.cinder.ioctx, *args)

    def on(self, image, method, *args):
        with self.cinder.image(image) as i:
            getattr(i, method)(*args)

    def test_every_change_is_read(self):
        self.steady()
        a, b = volume('a'), volume('b')
        c1, c2 = volume('c1'), volume('c2')

        def nothing():
            pass
        self.assertReads(0, nothing)
        self.assertReads(1, self.cinder.create_volume, a)
        self.assertReads(1, self.cinder.create_volume, b)
        self.assertReads(0, nothing)
        self.assertReads(1, self.on, a, 'create_snap', 's1')
        self.assertReads(1, self.on, a, 'protect_snap', 's1')
        # A format 1 clone leaves its parent's header alone.
        self.assertReads(1, self.cinder.clone, a, 's1', c1)
        self.assertReads(2, self.v2.clone, a, 's1', c2)
        self.assertReads(2, self.v2.flatten, c2)
        self.assertReads(1, self.cinder.flatten, c1)
        self.assertReads(1, self.on, b, 'resize', 2 * GIB)
        self.assertReads(1, self.on, a, 'rename_snap', 's1', 's2')
        self.assertReads(1, self.on, a, 'unprotect_snap', 's2')
        self.assertReads(1, self.on, a, 'remove_snap', 's2')
        self.assertReads(1, self.on, a, 'metadata_set', 'k', 'v')
        # A writer takes the image's exclusive lock, on its header.
        self.assertReads(1, self.on, a, 'write', b'x' * 4096, 0)
        self.assertReads(1, self.rbd, 'rename', b, b + '-renamed')
        self.assertReads(0, self.rbd, 'trash_move', b + '-renamed', 0)
        [trash_id] = self.cinder.trash_entries().values()
        self.assertReads(1, self.rbd, 'trash_restore', trash_id, b)
        self.assertReads(0, self.rbd, 'remove', c1)
        # Cinder's delete of a volume with clones: renamed .deleted (its
        # clone still needs it), then the clone's delete; the .deleted
        # image left with no child turns from temporary to a leak.
        self.assertReads(2, self.cinder.create_cloned_volume, c1, a)
        self.assertReads(1, self.cinder.delete_volume, a)
        self.assertReads(0, self.rbd, 'remove', c1)
        # Named by Cinder's changes or events: read whatever its version.
        self.assertReads(1, nothing, reread={test_rbd_ceph.uid('b')})
        self.assertReads(0, nothing)

    def test_schedule_and_conditions_of_a_full_listing(self):
        self.steady()
        view, counts = self.listing()
        self.assertFalse(view.full_listing)
        self.cache.full_every = 3
        self.cache.changed_passes = 2
        view, counts = self.listing()
        self.assertTrue(view.full_listing)
        self.assertEqual(incremental.PERIODIC, self.cache.reason)
        self.cache.invalidate()
        view, counts = self.listing()
        self.assertEqual(incremental.FAILED, self.cache.reason)
        self.assertEqual(0, counts['header stat'])
        # The command line keeps nothing: every listing reads in full.
        cli = self.driver(pool=STEADY, reconciler_rbd_command='rbd')
        for _ in range(2):
            self.assertTrue(cli.list_objects_reusing(self.cache).full_listing)
            self.assertIsNone(self.cache.data)
