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
