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

"""The RBD driver's names, and its two ways of reading a pool.

The CLI runs against the stand-in ``rbd`` (simulators/rbd.py); the binding
against stand-in ``rados``/``rbd`` modules over the same cluster data. Both
must give the driver the same view.
"""

import os
import stat
import sys
import types
from unittest import mock

import fixtures
from oslotest import base

from reconciler.drivers import bounded
from reconciler.drivers import rbd as rbd_driver
from reconciler.drivers import rbd_client
from reconciler import exception
from reconciler import model
from reconciler.simulators import rbd as rbd_sim
from reconciler.simulators.scenario import uid
import tests
from tests.unit.drivers import hostile
from tests.unit.drivers import test_nec

R = model.ResourceType
C = model.ObjectClass
ROOT = tests.ROOT


def vol(label):
    return 'volume-%s' % uid(label)


def cluster():
    c = rbd_sim.Cluster('volumes')
    c.image(vol('a'))
    c.snap(vol('a'), 'snapshot-%s' % uid('s'))
    c.snap(vol('a'), '%s.clone_snap' % vol('b'))
    c.image(vol('b'), parent=(vol('a'), '%s.clone_snap' % vol('b')))
    c.image(vol('old') + '.deleted')
    c.snap(vol('old') + '.deleted', 'mine')
    c.image(vol('kept') + '.deleted')
    c.snap(vol('kept') + '.deleted', '%s.clone_snap' % vol('c'))
    c.image(vol('c'), parent=(vol('kept') + '.deleted',
                              '%s.clone_snap' % vol('c')))
    c.image(vol('a') + '.backup.base')
    c.image('foreign')
    c.trash(vol('t'))
    return c


def fake_binding(data):
    """``rados`` and ``rbd`` modules answering from simulator data.

    Its directory lists every image as format 1 (no id, so no header
    object): the client opens each with librbd. Header reads are tested
    against a real cluster (tests/functional/test_rbd_scale.py).
    """
    rados = types.ModuleType('rados')
    rbd = types.ModuleType('rbd')
    rados.Error = type('Error', (Exception,), {})
    rados.ObjectNotFound = type('ObjectNotFound', (rados.Error,), {})
    rbd.Error = type('Error', (Exception,), {})
    rbd.ImageNotFound = type('ImageNotFound', (rbd.Error,), {})
    images = data['images']

    class Ioctx(object):
        def close(self):
            pass

        def dup(self):
            return Ioctx()

        def get_pool_id(self):
            return 1

    class Rados(object):
        def __init__(self, rados_id, clustername, conffile):
            self.args = (rados_id, clustername, conffile)
            self.conf = {}

        def conf_set(self, option, value):
            self.conf[option] = value

        def connect(self, timeout):
            self.conf['connect(timeout)'] = timeout

        def open_ioctx(self, pool):
            if pool != data['pool']:
                raise rados.Error('no pool %s' % pool)
            return Ioctx()

        def shutdown(self):
            pass

        def get_fsid(self):
            return 'fsid'

    class RBD(object):
        def list(self, ioctx):
            return sorted(images)

        def list2(self, ioctx):
            return iter([{'name': n, 'id': ''} for n in self.list(ioctx)])

        def trash_list(self, ioctx):
            return iter(data['trash'])

    class Image(object):
        def __init__(self, ioctx, name, snapshot=None, read_only=False):
            if name not in images:
                raise rbd.ImageNotFound(name)
            self.image, self.snapshot = images[name], snapshot

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            pass

        def size(self):
            return self.image['size']

        def list_snaps(self):
            # Ceph 16.2's shape; other namespaces' snapshots are UUID-named.
            snaps = [{'id': n, 'name': s, 'size': self.image['size'],
                      'namespace': 0}
                     for n, s in enumerate(sorted(self.image['snaps']), 1)]
            snaps += [{'id': 100 + n, 'name': s, 'size': self.image['size'],
                       'namespace': 2, 'trash': {'original_name': 'x'}}
                      for n, s in enumerate(sorted(self.trashed))]
            return iter(snaps)

        def set_snap_by_id(self, snap_id):
            snaps = dict(enumerate(sorted(self.image['snaps']), 1))
            snaps.update(enumerate(sorted(self.trashed), 100))
            self.snapshot = snaps[snap_id]

        @property
        def trashed(self):
            return self.image.get('trashed', {})

        def list_children2(self):
            children = dict(self.image['snaps'], **self.trashed)
            return [{'pool': data['pool'], 'image': c}
                    for c in children[self.snapshot]]

    rados.Rados = Rados
    rbd.RBD, rbd.Image = RBD, Image
    return rados, rbd


class RbdTestCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.tmp = self.useFixture(fixtures.TempDir()).path
        self.state = os.path.join(self.tmp, 'cluster.json')
        self.cluster = cluster()
        self.cluster.save(self.state)
        self.script = os.path.join(self.tmp, 'rbd')
        with open(self.script, 'w') as f:
            f.write('#!%s\nimport sys\nsys.path.insert(0, %r)\n'
                    'from reconciler.simulators import rbd\n'
                    'sys.exit(rbd.main(%r))\n'
                    % (sys.executable, ROOT, self.state))
        os.chmod(self.script, stat.S_IRWXU)

    def driver(self, **options):
        options = dict({'reconciler_driver': 'rbd', 'rbd_pool': 'volumes'},
                       **options)
        [backend] = test_nec.make_backend(self, {'rbd1': options})
        driver = backend.create_driver()
        driver.open()
        self.addCleanup(driver.close)
        return driver

    def use_modules(self, **modules):
        """Stand-in modules in the import system's own dict: Debian's real
        bindings may be imported already (tests/ceph_fixtures.py).
        """
        patcher = mock.patch.dict(sys.modules, modules)
        patcher.start()
        self.addCleanup(patcher.stop)

    def binding_driver(self, **options):
        rados, rbd = fake_binding(self.cluster.data)
        self.use_modules(rados=rados, rbd=rbd)
        driver = self.driver(**options)
        self.assertIsInstance(driver.client, rbd_client.BindingClient)
        return driver


class ClassifyTest(RbdTestCase):

    def test_selected_by_cinder_volume_driver(self):
        [backend] = test_nec.make_backend(self, {'b': {
            'volume_driver': 'cinder.volume.drivers.rbd.RBDDriver'}})
        self.assertIs(rbd_driver.RBDDriver, backend.driver_cls)

    def test_every_name_class(self):
        view = self.driver(reconciler_rbd_command=self.script).list_objects()
        got = {o.name: (o.kind, o.object_class, o.uuid, o.parent_uuid)
               for o in view.objects}
        trash_id = self.cluster.data['trash'][0]['id']
        self.assertEqual({
            vol('a'): (R.VOLUME, C.CINDER, uid('a'), None),
            vol('b'): (R.VOLUME, C.CINDER, uid('b'), None),
            vol('c'): (R.VOLUME, C.CINDER, uid('c'), None),
            # No clone left: a temporary its deleted volume alone holds.
            vol('old') + '.deleted':
                (R.VOLUME, C.TEMPORARY, uid('old'), None),
            vol('kept') + '.deleted':
                (R.VOLUME, C.TEMPORARY, uid('kept'), None),
            vol('a') + '.backup.base': (R.VOLUME, C.REPLICA, uid('a'), None),
            'foreign': (R.VOLUME, C.FOREIGN, None, None),
            '%s@snapshot-%s' % (vol('a'), uid('s')):
                (R.SNAPSHOT, C.CINDER, uid('s'), uid('a')),
            '%s@%s.clone_snap' % (vol('a'), vol('b')):
                (R.SNAPSHOT, C.TEMPORARY, uid('b'), uid('a')),
            '%s.deleted@%s.clone_snap' % (vol('kept'), vol('c')):
                (R.SNAPSHOT, C.TEMPORARY, uid('c'), uid('kept')),
            '%s.deleted@mine' % vol('old'):
                (R.SNAPSHOT, C.FOREIGN, None, uid('old')),
            '%s (trash %s)' % (vol('t'), trash_id):
                (R.VOLUME, C.CINDER, uid('t'), None)}, got)
        # Without a clone, only its (deleted) volume could still hold it.
        self.assertEqual(
            {vol('old') + '.deleted': (R.VOLUME, uid('old'))},
            {o.name: o.held_by for o in view.objects if o.held_by})

    def test_decode_names_as_listed(self):
        d = self.driver(reconciler_rbd_command=self.script)
        for name, expected in (
                (vol('a'), (R.VOLUME, C.CINDER, uid('a'))),
                ('%s@snapshot-%s' % (vol('a'), uid('s')),
                 (R.SNAPSHOT, C.CINDER, uid('s'))),
                ('%s@%s.clone_snap' % (vol('a'), vol('b')),
                 (R.SNAPSHOT, C.TEMPORARY, uid('b'))),
                ('%s@backup.%s.snap.1795380000.25' % (vol('a'), uid('k')),
                 (R.SNAPSHOT, C.REPLICA, None)),
                ('%s.backup.%s' % (vol('a'), uid('k')),
                 (R.VOLUME, C.REPLICA, uid('a'))),
                ('volume-%s-x' % uid('a'), (R.VOLUME, C.FOREIGN, None))):
            self.assertEqual(expected, d.decode_name(name), name)

    def test_binding_and_cli_see_the_same_pool(self):
        cli = self.driver(reconciler_rbd_command=self.script).list_objects()
        binding = self.binding_driver().list_objects()
        self.assertEqual(cli.objects, binding.objects)

    def test_point_lookups_agree(self):
        for driver in (self.driver(reconciler_rbd_command=self.script),
                       self.binding_driver()):
            self.assertEqual(uid('a'), driver.find_volume(uid('a')).uuid)
            self.assertIsNone(driver.find_volume(uid('nothing')))
            self.assertEqual(uid('s'), driver.find_snapshot(
                uid('s'), uid('a')).uuid)
            self.assertIsNone(driver.find_snapshot(uid('s'), uid('b')))
            self.assertIsNone(driver.find_snapshot(uid('s'), uid('nothing')))

    def test_cli_without_binding_is_the_default(self):
        self.use_modules(rados=None, rbd=None)
        driver = self.driver()
        self.assertIsInstance(driver.client, rbd_client.CLIClient)
        self.assertEqual(['rbd', '--cluster', 'ceph',
                          '--client-mount-timeout', '120',
                          '--rados-mon-op-timeout', '120',
                          '--rados-osd-op-timeout', '120'],
                         driver.client.argv)

    def test_rados_connect_timeout_bounds_every_wait(self):
        # Cinder's option sets all three of librados' waits, never above
        # the command timeout; below 1 (Cinder's -1) that timeout instead.
        for value, expected in (('5', 5), ('-1', 120), ('0', 120),
                                ('600', 120)):
            cli = self.driver(reconciler_rbd_command=self.script,
                              rados_connect_timeout=value).client
            self.assertEqual(
                [str(expected)] * 3,
                [cli.argv[cli.argv.index(o) + 1] for o in (
                    '--client-mount-timeout', '--rados-mon-op-timeout',
                    '--rados-osd-op-timeout')], value)
            binding = self.binding_driver(rados_connect_timeout=value)
            self.assertEqual({'client_mount_timeout': str(expected),
                              'rados_mon_op_timeout': str(expected),
                              'rados_osd_op_timeout': str(expected),
                              'connect(timeout)': expected},
                             binding.client.client.conf, value)

    def test_binding_lists_user_snapshots_only(self):
        # A removed snapshot a format 2 clone still needs: the binding
        # yields it (trash namespace, a UUID for a name), the CLI does not;
        # it still keeps its .deleted image from being a leak.
        self.cluster.data['images'][vol('old') + '.deleted'].update(
            trashed={'2f1c1fd4-5bbb-4f1f-a1b4-2c3ee1d7f1f7': [vol('c')]})
        driver = self.binding_driver()
        names = {o.name: (o.object_class, o.held_by)
                 for o in driver.list_objects().objects}
        self.assertEqual((C.TEMPORARY, None), names[vol('old') + '.deleted'])
        self.assertNotIn('2f1c1fd4', ' '.join(names))

    def test_trash_of_a_removal_or_migration_is_temporary(self):
        self.cluster.trash(vol('moving'), source='MIGRATION')
        self.cluster.trash(vol('going'), source='REMOVING')
        self.cluster.save(self.state)
        for driver in (self.driver(reconciler_rbd_command=self.script),
                       self.binding_driver()):
            got = {o.uuid: o.object_class
                   for o in driver.list_objects().objects
                   if ' (trash ' in o.name}
            self.assertEqual({uid('t'): C.CINDER, uid('moving'): C.TEMPORARY,
                              uid('going'): C.TEMPORARY}, got)

    def test_binding_decoding_errors_are_malformed_answers(self):
        # Ceph 16.2's trash_list raises IndexError on a MIGRATION entry.
        driver = self.binding_driver()
        with mock.patch.object(driver.client.rbd.RBD, 'trash_list',
                               side_effect=IndexError('list index out of '
                                                      'range')):
            e = self.assertRaises(exception.ArrayResponseError,
                                  driver.list_objects)
        self.assertIn('rbd trash_list: malformed entry (IndexError', str(e))

    def test_binding_errors_are_array_errors(self):
        driver = self.binding_driver()
        with mock.patch.object(driver.client.rbd.RBD, 'list2',
                               side_effect=driver.client.rbd.Error('EIO')):
            e = self.assertRaises(exception.ArrayError, driver.list_objects)
        self.assertIn('rbd list2: EIO', str(e))

    def test_unreachable_pool(self):
        rados, rbd = fake_binding(self.cluster.data)
        self.use_modules(rados=rados, rbd=rbd)
        e = self.assertRaises(exception.ArrayUnreachable, self.driver,
                              rbd_pool='images')
        self.assertIn('pool images', str(e))


class AnswerShapeTest(RbdTestCase):
    """Answers of the wrong shape are errors; none reads as "absent"."""

    def answer(self, command, stdout):
        self.cluster.fault(command, exit=0, stdout=stdout)
        self.cluster.save(self.state)

    def test_cli_listing_rows_are_checked(self):
        driver = self.driver(reconciler_rbd_command=self.script)
        for stdout in ('{}', '[["volume-x", 1]]', '[{"image": "volume-x"}]',
                       '[{"image": "volume-x", "size": "1"}]',
                       '[{"image": "", "size": 1}]',
                       '[{"image": "v", "size": 1, "snapshot": null}]'):
            self.answer('ls', stdout)
            e = self.assertRaises(exception.ArrayResponseError,
                                  driver.list_objects)
            self.assertIn('rbd ls', str(e))
        self.answer('trash ls', '[{"id": 7, "name": "volume-x"}]')
        self.assertRaises(exception.ArrayResponseError, driver.list_objects)

    def test_cli_look_up_answers_are_checked(self):
        driver = self.driver(reconciler_rbd_command=self.script)
        for command, stdout, lookup in (
                ('info', '{"name": "x", "size": null}',
                 lambda: driver.find_volume(uid('a'))),
                ('info', '{"name": "x"}',
                 lambda: driver.find_volume(uid('a'))),
                ('snap ls', '[{"id": 1}]',
                 lambda: driver.find_snapshot(uid('s'), uid('a'))),
                ('snap ls', '["snapshot-x"]',
                 lambda: driver.find_snapshot(uid('s'), uid('a')))):
            self.answer(command, stdout)
            e = self.assertRaises(exception.ArrayResponseError, lookup)
            self.assertIn('malformed', str(e))

    def test_binding_listing_without_an_answer_fails(self):
        driver = self.binding_driver()
        for method in ('list2', 'trash_list'):
            with mock.patch.object(driver.client.rbd.RBD, method,
                                   side_effect=driver.client.rbd.ImageNotFound(
                                       'pool directory')):
                e = self.assertRaises(exception.ArrayResponseError,
                                      driver.list_objects)
            self.assertIn('rbd %s: no answer' % method, str(e))


class HostileOutputTest(RbdTestCase):

    def test_deep_json_is_refused(self):
        self.cluster.fault('ls', exit=0,
                           stdout=hostile.nested_json().decode())
        self.cluster.save(self.state)
        driver = self.driver(reconciler_rbd_command=self.script)
        error, peak = hostile.peak_of(driver.list_objects)
        self.assertIsInstance(error, bounded.LimitExceeded)
        self.assertIn('rbd ls', str(error))
        self.assertIn('nested deeper than 64 levels', str(error))
        self.assertLess(peak, hostile.MAX_PEAK)
