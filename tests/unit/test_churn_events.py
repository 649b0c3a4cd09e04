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

"""The churn harness's Cinder notifications, as the listener parses them.

A shape the listener does not take (a wrong key, publisher or host) would
leave every churned deletion unrecorded: incremental churn would still
pass, on full listings only, and test nothing of the fold.
"""

from oslotest import base

from reconciler import cinder_events
from reconciler.simulators import churn_events
from reconciler.simulators.scenario import uid

BACKENDS = [('be0', 'bench-host@be0', None), ('be1', 'bench-host@be1', None)]
META = {'message_id': 'm1', 'timestamp': '2026-12-01 10:00:00.000000'}


class PayloadTest(base.BaseTestCase):

    def parse(self, publisher, event_type, payload):
        return cinder_events.parse(publisher, event_type, payload, META,
                                   BACKENDS, 5.0)

    def test_volume_events_name_the_volume_and_its_backend(self):
        vid = uid('v')
        for action in ('create.end', 'delete.end', 'unmanage.end',
                       'retype', 'attach.end', 'detach.start'):
            e = self.parse('volume.bench-host@be1', 'volume.' + action,
                           churn_events.volume_payload(
                               vid, 'bench-host@be1#pool', 'available',
                               attached=('compute-1',)))
            self.assertEqual(('be1', 'volume', vid),
                             (e.backend, e.resource_type, e.resource_id))
        self.assertEqual('compute-1', dict(e.payload)['attached_hosts'])

    def test_snapshot_events_take_the_publisher_host(self):
        sid, vid = uid('s'), uid('v')
        e = self.parse('snapshot.bench-host@be0', 'snapshot.delete.start',
                       churn_events.snapshot_payload(sid, vid, 'deleting'))
        self.assertEqual(('be0', 'snapshot', sid, vid),
                         (e.backend, e.resource_type, e.resource_id,
                          dict(e.payload)['volume_id']))
        self.assertEqual(cinder_events.DELETED, cinder_events.verdict([
            e, self.parse('snapshot.bench-host@be0', 'snapshot.delete.end',
                          churn_events.snapshot_payload(sid, vid,
                                                        'deleted'))]))
