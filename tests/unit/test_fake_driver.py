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

"""The file-backed array: decoding, look-ups and bad input."""

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslotest import base
import yaml

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.drivers import bounded
from reconciler import exception
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit.drivers import guards
from tests.unit.drivers import hostile

R = model.ResourceType
C = model.ObjectClass


class _FakeCase(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.path = self.create_tempfiles([('array', '')], ext='.yaml')[0]
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        self.useFixture(config_fixture.Config(conf)).load_raw_values(
            group='b', reconciler_driver='fake', fake_array_file=self.path)
        self.backend = backend_conf.BackendConf(conf, 'b')
        self.driver = self.backend.create_driver()

    def write(self, data):
        with open(self.path, 'w') as f:
            f.write(data if isinstance(data, str) else yaml.safe_dump(data))


class FakeGuardTest(guards.GuardTests, _FakeCase):
    """The fake array has no guard of its own: the stage's are its only
    ones (it once deleted mapped volumes and quarantined onto a taken name).
    """

    exported_to = ('compute-1', 'compute-2')

    def guard_setup(self):
        self.array = {
            'volumes': [{'name': 'volume-%s' % uid(v)}
                        for v in ('exported', 'snapshotted', 'free')],
            'snapshots': [{'name': 'snapshot-%s' % uid('s'),
                           'volume': 'volume-%s' % uid('snapshotted')}],
            'exports': [{'volume': 'volume-%s' % uid('exported'),
                         'host': h} for h in self.exported_to]}
        self.write(self.array)
        d = self.driver
        return d, {k: d.find_volume(uid(k))
                   for k in ('exported', 'snapshotted', 'free')}

    def occupy(self, name):
        self.array['volumes'].append({'name': name})
        self.write(self.array)


class FakeDriverTest(_FakeCase):

    def test_listing_decodes_every_class(self):
        a, s = uid('a'), uid('s')
        self.write({
            'volumes': [{'name': 'volume-%s' % a, 'pool': 'p1', 'size': 2},
                        {'name': 'unm-%s' % uid('u')},
                        {'name': 'volume-not-a-uuid'},
                        {'name': 'lun7'}],
            'snapshots': [{'name': 'snapshot-%s' % s,
                           'volume': 'volume-%s' % a},
                          {'name': 'clone-snap-%s' % uid('c'),
                           'volume': 'volume-%s' % a}],
            'exports': [{'volume': 'volume-%s' % a, 'host': 'cmp1',
                         'initiators': ['iqn.x']}]})
        with self.driver as d:
            objs = d.list_objects().objects
        got = [(o.kind, o.object_class, o.uuid) for o in objs]
        self.assertEqual([
            (R.VOLUME, C.CINDER, a), (R.VOLUME, C.UNMANAGED, uid('u')),
            (R.VOLUME, C.FOREIGN, None), (R.VOLUME, C.FOREIGN, None),
            (R.SNAPSHOT, C.CINDER, s), (R.SNAPSHOT, C.TEMPORARY, uid('c')),
            (R.EXPORT, C.CINDER, a)], got)
        self.assertEqual(a, objs[4].parent_uuid)
        self.assertEqual(frozenset(['iqn.x']), objs[-1].initiators)

    def test_point_lookups_reread_the_array(self):
        a = uid('a')
        self.write({'volumes': [{'name': 'volume-%s' % a}]})
        obj = self.driver.find_volume(a)
        self.assertEqual(a, obj.uuid)
        self.write({'volumes': []})
        self.assertIsNone(self.driver.refresh(obj))
        self.assertIsNone(self.driver.find_volume(a))
        self.assertIsNone(self.driver.find_snapshot(uid('s'), a))

    def test_bad_input_is_an_array_error(self):
        for text, error in (
                ('volumes: [', exception.ArrayResponseError),
                ('- a list', exception.ArrayResponseError),
                ('volumes: [{size: 1}]', exception.ArrayResponseError),
                ('error: controller offline', exception.ArrayError),
                ('{}', exception.ArrayResponseError),
                ('snapshots: []', exception.ArrayResponseError),
                ('volumes:', exception.ArrayResponseError),
                ('volumes: {a: 1}', exception.ArrayResponseError),
                ('volumes: []\nexports: 7', exception.ArrayResponseError)):
            self.write(text)
            self.assertRaises(error, self.driver.list_objects)
            self.assertRaises(error, self.driver.find_volume, uid('a'))
        self.write('volumes: []')
        self.assertEqual((), self.driver.list_objects().objects)
        self.backend.conf.set_override('fake_array_file', '/nonexistent',
                                       group='b')
        self.assertRaises(exception.ArrayUnreachable,
                          self.driver.list_objects)

    def test_names(self):
        self.assertEqual('volume-%s' % uid('a'),
                         self.driver.volume_name(uid('a')))
        self.assertEqual('snapshot-%s' % uid('s'),
                         self.driver.snapshot_name(uid('s')))

    def test_deep_or_oversized_file_is_refused(self):
        # JSON, then YAML (libyaml has limits of its own).
        for text, refusal in (
                (hostile.nested_json().decode(), 'nested deeper than 64'),
                ('- ' * hostile.DEPTH + 'x', 'malformed'),
                ('{a: ' * hostile.DEPTH + '1' + '}' * hostile.DEPTH,
                 'maximum nesting depth')):
            self.write(text)
            error, peak = hostile.peak_of(self.driver.list_objects)
            self.assertIsInstance(error, exception.ArrayResponseError)
            self.assertIn(refusal, str(error))
            self.assertLess(peak, hostile.MAX_PEAK)
        self.useFixture(fixtures.MockPatch(
            'reconciler.drivers.bounded.MAX_BYTES', 1000))
        self.write('{"volumes": [%s]}' % ', '.join(['{}'] * 1000))
        error = self.assertRaises(bounded.LimitExceeded,
                                  self.driver.list_objects)
        self.assertIn('larger than 1000 bytes', str(error))

    def test_json_the_json_module_accepts_is_read(self):
        # yajl (the depth guard's parser) refuses a lone surrogate escape.
        self.write('{"volumes": [{"name": "odd-\\udc80", "pool": "p"}]}')
        [obj] = self.driver.list_objects().objects
        self.assertEqual('odd-\udc80', obj.name)
        self.write('{"x": "\\udc80", "volumes": %s}' % hostile.nested_json(
            ).decode())
        self.assertRaises(bounded.LimitExceeded, self.driver.list_objects)
