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

"""How the manageable driver reads Cinder's manageable entries."""

from oslotest import base

from reconciler.drivers import manageable
from reconciler import exception
from reconciler import model
from reconciler.simulators.scenario import uid
from tests.unit.drivers import test_nec

R = model.ResourceType
C = model.ObjectClass


class FakeInventory(object):
    requests = 0

    def __init__(self, volumes=(), snapshots=()):
        self.entries = {'volumes': list(volumes),
                        'snapshots': list(snapshots)}

    def manageable(self, backend_host, resource):
        self.requests += 1
        return self.entries[resource]


def entry(name, cinder_id=None, safe=True, source=None, **more):
    e = dict(reference={'source-name': name}, size=1, safe_to_manage=safe,
             reason_not_safe=None if safe else 'in use', cinder_id=cinder_id,
             extra_info=None, **more)
    if source:
        e['source_reference'] = {'source-name': source}
    return e


class ManageableTest(base.BaseTestCase):

    def driver(self, inventory, **options):
        [backend] = test_nec.make_backend(self, {'any1': dict(
            reconciler_driver='manageable', **options)})
        driver = manageable.ManageableDriver(backend)
        driver.inventory = inventory
        return driver

    def test_classes(self):
        view = self.driver(FakeInventory(
            volumes=[entry('volume-%s' % uid('a')),
                     # unsafe, never "managed": decoded all the same
                     entry('volume-%s' % uid('in-use'), safe=False),
                     # an array-specific name Cinder says it manages
                     entry('osv-abcdef', cinder_id=uid('b'), safe=False),
                     entry('lun-9'),
                     dict(entry('x'), reference={'source-id': '00a1'})],
            snapshots=[
                entry('_snapshot-%s' % uid('s1'),
                      source='volume-%s' % uid('a')),
                entry('snapshot-%s' % uid('s2'), source=uid('a')),
                entry('snapshot-%s' % uid('s3'), source='lun-9'),
                entry('snap-other', source='lun-9')])).list_objects()
        self.assertEqual(frozenset(), view.pools)
        self.assertEqual([
            (R.VOLUME, 'volume-%s' % uid('a'), uid('a'), C.CINDER, None),
            (R.VOLUME, 'volume-%s' % uid('in-use'), uid('in-use'),
             C.CINDER, None),
            (R.VOLUME, 'osv-abcdef', uid('b'), C.CINDER, None),
            (R.VOLUME, 'lun-9', None, C.FOREIGN, None),
            (R.VOLUME, '00a1', None, C.FOREIGN, None),
            (R.SNAPSHOT, '_snapshot-%s' % uid('s1'), uid('s1'), C.CINDER,
             uid('a')),
            (R.SNAPSHOT, 'snapshot-%s' % uid('s2'), uid('s2'), C.CINDER,
             uid('a')),
            (R.SNAPSHOT, 'snapshot-%s' % uid('s3'), uid('s3'), C.CINDER,
             None),
            (R.SNAPSHOT, 'snap-other', None, C.FOREIGN, None)],
            [(o.kind, o.name, o.uuid, o.object_class, o.parent_uuid)
             for o in view.objects])

    def test_complete_listing_covers_the_backend(self):
        view = self.driver(FakeInventory(),
                           reconciler_manageable_complete='true'
                           ).list_objects()
        self.assertIsNone(view.pools)

    def test_malformed_entries_fail(self):
        for bad in ({'size': 1}, dict(entry('v'), reference='volume-x'),
                    'volume-x', dict(entry('v'), reference={}),
                    dict(entry('v'), reference={'source-name': None}),
                    dict(entry('v'), reference=None)):
            driver = self.driver(FakeInventory([bad], [bad]))
            self.assertRaises(exception.ArrayResponseError,
                              driver.list_objects)
            # A look-up reads the same answer: it fails, never "absent".
            self.assertRaises(exception.ArrayResponseError,
                              driver.find_volume, uid('a'))
            self.assertRaises(exception.ArrayResponseError,
                              driver.find_snapshot, uid('s'), uid('a'))

    def test_point_lookups(self):
        driver = self.driver(FakeInventory(
            volumes=[entry('volume-%s' % uid('a'))],
            snapshots=[entry('snapshot-%s' % uid('s'))]))
        self.assertEqual('volume-%s' % uid('a'),
                         driver.find_volume(uid('a')).name)
        self.assertIsNone(driver.find_volume(uid('s')))
        self.assertEqual(uid('s'),
                         driver.find_snapshot(uid('s'), uid('a')).uuid)
        self.assertIsNone(driver.refresh(model.ArrayObject(
            R.VOLUME, 'lun-1', None, C.FOREIGN)))
