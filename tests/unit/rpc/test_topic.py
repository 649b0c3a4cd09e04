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

"""The controller's RPC queue is never the notification listener's."""

from oslotest import base

from reconciler.conf import cinder_notifications
from reconciler.rpc import controller


class TopicTest(base.BaseTestCase):

    def test_the_rpc_topic_is_not_the_listeners_default_pool(self):
        # Both name a queue on the same broker (devstack and most clouds
        # use one transport_url): a shared name would have the listener
        # consume, and drop, the controller's RPC calls.
        [pool] = [o.default for o in cinder_notifications.OPTS
                  if o.dest == 'pool']
        self.assertNotEqual(pool, controller.TOPIC)
