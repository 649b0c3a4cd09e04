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

"""The Cinder fixture and the fault proxy against a real cinder-api.

Needs the venv of tools/setup-cinder.sh (or CINDER_RECONCILER_CINDER_VENV).
Besides checking the fixture, these pin the Cinder API behaviour the
reconciler relies on, so a Cinder upgrade that changes it fails here.
"""

import shutil
import socket
import tempfile
import time

from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exc
import fixtures
from keystoneauth1 import exceptions as ks_exc
import testtools

from reconciler.simulators import cinder
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn

uid = scn.uid
MIGRATED, NAME_ID = uid('migrated'), uid('migrated-backend-object')
ATTACHED = uid('attached')


def _scenario():
    be1 = ['a-%d' % i for i in range(6)]     # 7 with MIGRATED: 2 pages of 5
    be2 = ['b-%d' % i for i in range(3)]
    volumes = [scn.Volume(uid(n), 'be1', project='project-%s' % 'abc'[i % 3],
                          pool='pool2' if i == 0 else None, display_name=n)
               for i, n in enumerate(be1)]
    volumes += [scn.Volume(uid(n), 'be2', project='project-b', display_name=n)
                for n in be2]
    volumes += [
        scn.Volume(MIGRATED, 'be1', name_id=NAME_ID,
                   migration_status='success', display_name='migrated'),
        scn.Volume(ATTACHED, 'be2', status='in-use', attached_to=['compute-1'],
                   display_name='attached')]
    snapshots = [scn.Snapshot(uid('snap-a'), uid('a-1')),
                 scn.Snapshot(uid('snap-m'), MIGRATED,
                              group_snapshot_id=uid('group-snap')),
                 scn.Snapshot(uid('snap-b'), uid('b-0'))]
    return scn.Scenario(
        backends=[scn.Backend('be1', 'hostA', pools=['pool1', 'pool2']),
                  scn.Backend('be2', 'hostB', pools=['lvm']),
                  # Empty at start: the churn tests write only here.
                  scn.Backend('churn', 'hostC')],
        volumes=volumes, snapshots=snapshots)


class CinderCloudTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.scenario = _scenario()
        cls.workdir = tempfile.mkdtemp(prefix='cinder-cloud-')
        cls.cloud = cinder.CinderCloud(cls.workdir, cls.scenario, page_size=5)
        try:
            cls.cloud.start()
        except Exception:
            shutil.rmtree(cls.workdir)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        shutil.rmtree(cls.workdir)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(self.proxy.stop)

    def client(self, endpoint=None, version=cinder.MAX_MICROVERSION):
        return cinder_client.Client(
            version, session=self.cloud.session(endpoint or self.proxy.url))

    def ids(self, backend, pool=None):
        return {v.id for v in self.scenario.volumes if v.backend == backend
                and (pool is None or (v.pool or 'pool1') == pool)}

    def list_ids(self, c=None, **filters):
        vols = (c or self.client()).volumes.list(
            search_opts=dict(all_tenants=1, **filters))
        return [v.id for v in vols]

    def test_host_filter_follows_pages_through_proxy(self):
        found = self.list_ids(host='hostA@be1')
        self.assertEqual(7, len(found))
        self.assertEqual(self.ids('be1'), set(found))
        # Two pages, the second requested at the proxy: the next link
        # was rewritten.
        self.assertEqual(2, self.proxy.stats('/v3/volumes/detail').requests)
        self.assertGreater(self.proxy.stats('/v3/').response_bytes, 1000)
        self.assertEqual(self.ids('be1', 'pool2'),
                         set(self.list_ids(host='hostA@be1#pool2')))
        self.assertEqual(self.ids('be2'), set(self.list_ids(host='hostB')))

    def test_name_id_shown_and_filterable(self):
        vol = self.client().volumes.get(MIGRATED)
        self.assertEqual(NAME_ID,
                         getattr(vol, 'os-vol-mig-status-attr:name_id'))
        self.assertEqual('success',
                         getattr(vol, 'os-vol-mig-status-attr:migstat'))
        self.assertEqual('hostA@be1#pool1',
                         getattr(vol, 'os-vol-host-attr:host'))
        # Only the column name filters; other keys silently match nothing.
        self.assertEqual([MIGRATED], self.list_ids(_name_id=NAME_ID))
        self.assertEqual([], self.list_ids(name_id=NAME_ID))
        self.assertEqual([], self.list_ids(no_such_filter='x'))

    def test_attachment_shows_host_name(self):
        vol = self.client().volumes.get(ATTACHED)
        self.assertEqual('in-use', vol.status)
        [att] = vol.attachments
        self.assertEqual('compute-1', att['host_name'])
        self.assertEqual(cinder.instance_uuid(ATTACHED, 'compute-1'),
                         att['server_id'])

    def test_snapshots_host_filter_and_group(self):
        snaps = self.client().volume_snapshots.list(
            search_opts={'all_tenants': 1, 'host': 'hostA@be1'})
        by_id = {s.id: s for s in snaps}
        self.assertEqual({uid('snap-a'), uid('snap-m')}, set(by_id))
        self.assertEqual(uid('group-snap'),
                         by_id[uid('snap-m')].group_snapshot_id)
        old = self.client(version='3.13').volume_snapshots.get(uid('snap-m'))
        self.assertFalse(hasattr(old, 'group_snapshot_id'))

    def test_with_count_in_every_page(self):
        vols, count = self.client().volumes.list(
            search_opts={'all_tenants': 1, 'host': 'hostA@be1',
                         'with_count': True})
        self.assertEqual((7, 7), (len(vols), count))
        sess, url = self.cloud.session(), self.proxy.url + (
            '/volumes/detail?all_tenants=1&host=hostA@be1&with_count=true')
        counts = []
        while url:
            page = sess.get(url, headers={
                'OpenStack-API-Version': 'volume 3.45'}).json()
            counts.append(page.get('count'))
            url = next((link['href'] for link in page.get('volumes_links', ())
                        if link['rel'] == 'next'), None)
        # With a count, even the last, partial page links to a (empty) next.
        self.assertEqual([7, 7, 7], counts)
        # Below 3.45 with_count is just an unknown filter: no volumes at all.
        self.assertEqual([], self.list_ids(self.client(version='3.44'),
                                           with_count=True))

    def _churn_volume(self, name, **kwargs):
        vol = scn.Volume(uid(name + self.id()), 'churn', project='project-c',
                         **kwargs)
        self.cloud.add_volumes([vol])
        return vol.id

    def test_soft_deleted_volume_disappears(self):
        c = self.client()
        vid = self._churn_volume('gone', attached_to=['compute-2'])
        self.assertIn(vid, self.list_ids(c, host='hostC'))
        self.cloud.soft_delete_volume(vid)
        self.assertNotIn(vid, self.list_ids(c, host='hostC'))
        self.assertRaises(cinder_exc.NotFound, c.volumes.get, vid)
        self.assertRaises(KeyError, self.cloud.update_volume, vid, size=2)

    def test_soft_deleted_marker_is_404(self):
        c = self.client()
        vids = [self._churn_volume('page-%d' % i) for i in range(3)]
        page = c.volumes.list(search_opts={'all_tenants': 1, 'host': 'hostC'},
                              limit=2, sort='id:asc')
        self.assertEqual(sorted(vids)[:2], [v.id for v in page])
        self.cloud.soft_delete_volume(page[-1].id)
        e = self.assertRaises(
            cinder_exc.NotFound, c.volumes.list, limit=2, sort='id:asc',
            marker=page[-1].id,
            search_opts={'all_tenants': 1, 'host': 'hostC'})
        self.assertIn('Volume %s could not be found' % page[-1].id, str(e))
        for vid in set(vids) - {page[-1].id}:
            self.cloud.soft_delete_volume(vid)

    def test_volume_helpers(self):
        c = self.client()
        vid = self._churn_volume('helpers', size=3)
        self.cloud.update_volume(vid, status='error', _name_id=NAME_ID)
        vol = c.volumes.get(vid)
        self.assertEqual(('error', NAME_ID), (
            vol.status, getattr(vol, 'os-vol-mig-status-attr:name_id')))
        self.cloud.update_volume(vid, status='available')
        att = self.cloud.add_attachment(vid, 'compute-3')
        vol = c.volumes.get(vid)
        self.assertEqual(('in-use', [('compute-3', att)]), (vol.status, [
            (a['host_name'], a['attachment_id']) for a in vol.attachments]))
        self.cloud.remove_attachment(vid, 'compute-3')
        vol = c.volumes.get(vid)
        self.assertEqual(('available', []), (vol.status, vol.attachments))
        self.cloud.soft_delete_volume(vid)

    def test_snapshot_helpers(self):
        c = self.client()
        vid = self._churn_volume('snap-parent')
        sid = uid('churn-snap')
        self.cloud.add_snapshots([scn.Snapshot(sid, vid, status='creating')])
        self.assertEqual('creating', c.volume_snapshots.get(sid).status)
        self.cloud.update_snapshot(sid, status='available')
        self.assertEqual('available', c.volume_snapshots.get(sid).status)
        self.cloud.soft_delete_snapshot(sid)
        self.assertRaises(cinder_exc.NotFound, c.volume_snapshots.get, sid)
        self.cloud.soft_delete_volume(vid)

    def test_fail_second_page(self):
        rule = self.proxy.fail(r'^/v3/volumes/detail', after=1)
        e = self.assertRaises(cinder_exc.ClientException, self.list_ids,
                              host='hostA@be1')
        self.assertEqual(500, e.code)
        self.assertEqual((2, 1), (rule.seen, rule.fired))
        self.assertEqual(7, len(self.list_ids(host='hostA@be1')))

    def test_drop(self):
        self.proxy.drop(r'^/v3/volumes', times=None)
        self.assertRaises(ks_exc.ConnectionError, self.list_ids)
        self.proxy.clear()
        self.assertEqual(self.ids('be1'), set(self.list_ids(host='hostA@be1')))

    def test_delay(self):
        self.proxy.delay(r'^/v3/volumes/', 0.3, times=1)
        start = time.monotonic()
        self.client().volumes.get(ATTACHED)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)


class FixtureErrorsTest(testtools.TestCase):

    def test_start_reports_log_when_cinder_dies(self):
        workdir = self.useFixture(fixtures.TempDir()).path
        with socket.socket() as busy:
            busy.bind(('127.0.0.1', 0))
            busy.listen()
            cloud = cinder.CinderCloud(workdir, scn.Scenario(),
                                       port=busy.getsockname()[1])
            e = self.assertRaises(cinder.CinderCloudError, cloud.start)
        self.assertIn('cinder-api exited', str(e))
        self.assertIn('Address already in use', str(e))

    def test_proxy_answers_502_when_target_is_down(self):
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        with faultproxy.FaultProxy('http://127.0.0.1:%d/v3' % port) as proxy:
            c = cinder_client.Client(
                '3.0', session=cinder.admin_session(proxy.url))
            e = self.assertRaises(cinder_exc.ClientException, c.volumes.list)
        self.assertEqual(502, e.code)
