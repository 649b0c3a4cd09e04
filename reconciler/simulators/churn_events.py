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

"""What the churned Cinder announces, and the faults on the way to history.

The churn harness (reconciler.simulators.churn) changes Cinder's database
and the arrays itself; this module sends, for each of its operations, the
notifications Cinder 29's volume service would: the same event types, the
payload keys of ``_usage_from_volume``/``_usage_from_snapshot``
(cinder/volume/volume_utils.py), publisher ``volume.<host@backend>`` or
``snapshot.<host@backend>``, through a real oslo.messaging notifier
(messagingv2). The daemon's own ``reconciler.listener.CinderListener``
consumes them from its pool and records them in history, as in production.

The transport is the one the listener is configured with. By default
tools/churn.py and its test use oslo.messaging's in-process ``fake://``
driver (its queues are shared by every transport of the process, pools
included; while the harness runs they outlive a listener's restart as a
broker's queues do), so a churn run needs no broker; ``tools/churn.py
--cinder-broker rabbit://...`` sends them through a real RabbitMQ instead.

Faults (:meth:`CinderAnnouncer.lose`, :meth:`late`, :meth:`restart`):
events dropped before the broker (Cinder's notifier gave up), events held
back and delivered late, and the listener stopped for a while and started
again (its start marker is the gap every incremental pass must notice).
"""

import collections
import threading
import time

from oslo_config import cfg
import oslo_messaging
from oslo_messaging._drivers import impl_fake

from reconciler import listener as listener_mod


def volume_payload(volume_id, host, status, size=1, attached=()):
    """A volume notification's payload as Cinder 29 builds it."""
    return {
        'tenant_id': 'churn-project', 'host': host, 'user_id': 'churn-user',
        'availability_zone': 'nova', 'volume_id': volume_id,
        'volume_type': 'churn-type', 'display_name': None,
        'launched_at': '', 'created_at': '', 'status': status,
        'snapshot_id': None, 'size': size, 'replication_status': None,
        'replication_extended_status': None,
        'replication_driver_data': None, 'metadata': {},
        'volume_attachment': [
            {'id': '%s-%s' % (volume_id, h), 'attached_host': h,
             'instance_uuid': None, 'attach_status': 'attached',
             'connector': {'host': h}, 'connection_info': {}}
            for h in attached]}


def snapshot_payload(snapshot_id, volume_id, status):
    """A snapshot notification's payload as Cinder 29 builds it."""
    return {'tenant_id': 'churn-project', 'user_id': 'churn-user',
            'availability_zone': 'nova', 'volume_id': volume_id,
            'volume_size': 1, 'snapshot_id': snapshot_id,
            'display_name': None, 'created_at': '', 'status': status,
            'deleted': '', 'metadata': ''}


class Silent(object):
    """Announces nothing: a harness whose operations are driven outside
    :meth:`reconciler.simulators.churn.Churn.run` (as Cinder with
    notifications off).
    """

    def volume(self, *args, **kwargs):
        pass

    snapshot = volume


class CinderAnnouncer(object):
    """Cinder's notifier for the churned backends, plus the listener.

    ``backends``: the enabled ``BackendConf``s (``cinder_host`` is the
    volume service's ``host@backend``); ``url``: the transport (None: the
    listener's, from ``conf``).
    """

    def __init__(self, conf, store, backends, url=None):
        self.conf = conf
        self.store = store
        self.backends = list(backends)
        self.hosts = {b.name: b.cinder_host for b in self.backends}
        group = conf.cinder_notifications
        url = (url or group.transport_url
               or conf.oslo_messaging_notifications.transport_url)
        topics = group.topics or conf.oslo_messaging_notifications.topics
        self._fake_cleanup = None
        if url.startswith('fake:'):
            # A stopping listener's transport.cleanup() would drop every
            # in-process queue, which no broker does to a pool's queue.
            manager = impl_fake.FakeExchangeManager
            self._fake_cleanup = vars(manager)['cleanup']
            manager.cleanup = classmethod(lambda cls: None)
        # Cinder's own configuration, not the reconciler's.
        self.transport = oslo_messaging.get_notification_transport(
            cfg.ConfigOpts(), url=url)
        self.notifiers = {}
        for b in self.backends:
            for kind in ('volume', 'snapshot'):
                self.notifiers[b.name, kind] = oslo_messaging.Notifier(
                    self.transport, publisher_id='%s.%s' % (
                        kind, b.cinder_host), driver='messagingv2',
                    topics=topics)
        self.counter = collections.Counter()
        self._lock = threading.Lock()
        self._lost_until = 0.0
        self._late_until = 0.0
        self._late_by = 0.0
        self._timers = []
        self._restarts = []
        self.listener = None

    # -- the listener ---------------------------------------------------------

    def start_listener(self, timeout=30):
        """A new listener; returns once it recorded its start marker."""
        since = time.time()
        self.listener = listener_mod.CinderListener(self.conf, self.store,
                                                    self.backends)
        self.listener.start()
        deadline = time.monotonic() + timeout
        while not self.store.listener_started_since(None, since):
            if time.monotonic() > deadline:
                raise RuntimeError('the Cinder listener did not start')
            time.sleep(0.05)

    def restart(self, seconds):
        """Fault: the listener stops for ``seconds``, then starts again
        (in a thread of its own: Cinder does not wait).

        Events sent meanwhile wait in its pool's queue; the restart's
        marker says some may be missing.
        """
        def run():
            self.listener.stop()
            time.sleep(seconds)
            self.start_listener()
        thread = threading.Thread(target=run)
        with self._lock:
            if any(t.is_alive() for t in self._restarts):
                return      # one restart at a time
            self.counter['listener restarts'] += 1
            self._restarts.append(thread)
        thread.start()

    def lose(self, seconds):
        """Fault: every event of the next ``seconds`` is dropped."""
        self._lost_until = time.monotonic() + seconds

    def late(self, seconds):
        """Fault: events of the next ``seconds`` arrive ``seconds`` late."""
        self._late_until = time.monotonic() + seconds
        self._late_by = seconds

    # -- Cinder's announcements ---------------------------------------------

    def _send(self, backend, kind, event_type, payload):
        now = time.monotonic()
        with self._lock:
            self.counter['events sent'] += 1
            if now < self._lost_until:
                self.counter['events lost'] += 1
                return
            late = now < self._late_until
            if late:
                self.counter['events late'] += 1
        notifier = self.notifiers[backend, kind]
        if late:
            # The timestamp is the emission's, not the delivery's.
            timer = threading.Timer(self._late_by, notifier.info,
                                    args=({}, event_type, payload))
            with self._lock:
                self._timers.append(timer)
            timer.start()
        else:
            notifier.info({}, event_type, payload)

    def volume(self, backend, action, volume_id, status, attached=()):
        """``volume.<action>`` (e.g. ``delete.end``) of ``volume_id``."""
        self._send(backend, 'volume', 'volume.' + action, volume_payload(
            volume_id, self.hosts[backend] + '#pool', status,
            attached=attached))

    def snapshot(self, backend, action, snapshot_id, volume_id, status):
        self._send(backend, 'snapshot', 'snapshot.' + action,
                   snapshot_payload(snapshot_id, volume_id, status))

    # -- the end -------------------------------------------------------------

    def recorded(self):
        """Cinder events in history, all backends (no start markers)."""
        return sum(len(self.store.events_since(b.name, 0))
                   for b in self.backends)

    def settle(self, timeout=30):
        """Late events delivered, then every one not lost recorded."""
        with self._lock:
            timers, self._timers = self._timers, []
            restarts = list(self._restarts)
        for t in timers + restarts:
            t.join()
        want = self.counter['events sent'] - self.counter['events lost']
        deadline = time.monotonic() + timeout
        while self.recorded() < want and time.monotonic() < deadline:
            time.sleep(0.2)

    def close(self):
        with self._lock:
            timers, restarts = list(self._timers), list(self._restarts)
        for t in timers:
            t.cancel()
        for t in restarts:
            t.join()
        if self.listener is not None:
            self.listener.stop()
        if self._fake_cleanup is not None:
            impl_fake.FakeExchangeManager.cleanup = self._fake_cleanup
        self.transport.cleanup()
