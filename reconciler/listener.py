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

"""The daemon's listener of Cinder's notifications, recorded in the history.

An oslo.messaging batch notification listener (threading executor) on
Cinder's topics, in a pool of its own (``[cinder_notifications] pool``):
the broker gives the pool a queue of its own on each topic, so Ceilometer
and every other consumer still get every event, and the daemons of one
deployment share the pool's queues, so each event is recorded once.
Events of the enabled backends are kept as reconciler.cinder_events says,
one transaction per batch; a batch the history cannot take is requeued.

It runs in a thread of its own: with the broker down, starting a listener
blocks in oslo.messaging's reconnection loop, which must delay neither the
passes nor a stop. Each time it starts consuming it records a start marker
per backend (``History.listener_started_since``): events from before it may
be missing. ``stop`` waits for the batch under way.
"""

import threading
import time

from oslo_config import cfg
from oslo_log import log as logging
import oslo_messaging

from reconciler import cinder_events
from reconciler import exception

LOG = logging.getLogger(__name__)

#: Events per history transaction, and the longest wait to fill a batch.
BATCH_SIZE = 100
BATCH_TIMEOUT = 1
#: The exchange Cinder notifies on when nothing configures another: the
#: default of oslo.messaging's control_exchange, which Cinder never changes.
CINDER_EXCHANGE = 'openstack'
# Before requeueing a batch the history refused: no hot redelivery loop.
_REQUEUE_DELAY = 1


class _Endpoint(object):
    """Receives batches of Cinder's INFO notifications."""

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=cinder_events.EVENT_TYPE_PATTERN)

    def __init__(self, history, backends, stop):
        self.history = history
        self.backends = backends
        self._stop = stop

    def info(self, messages):
        now = time.time()
        events = [cinder_events.parse(
            m.get('publisher_id'), m.get('event_type'), m.get('payload'),
            m.get('metadata'), self.backends, now) for m in messages]
        events = [e for e in events if e is not None]
        try:
            self.history.record_events(events, now)
        except Exception as e:
            # One line: no payload, no context (it holds a token).
            LOG.warning("Cinder's events not recorded, requeued: %s",
                        exception.describe(e))
            self._stop.wait(_REQUEUE_DELAY)
            return oslo_messaging.NotificationResult.REQUEUE
        return oslo_messaging.NotificationResult.HANDLED


def configured(conf):
    """Whether the listener has a broker: a transport URL set somewhere.

    ``[DEFAULT] transport_url`` defaults to ``rabbit://`` (localhost),
    which counts only when set. The options are those a
    ``notifier.Notifier`` registered.
    """
    default = conf.get_location('transport_url').location
    return bool(conf.cinder_notifications.transport_url
                or conf.oslo_messaging_notifications.transport_url
                or default != cfg.Locations.opt_default)


class CinderListener(object):
    """Listens to Cinder's notifications until ``stop``."""

    def __init__(self, conf, history, backends):
        """``backends``: the enabled ``BackendConf``s whose events count."""
        self.conf = conf
        self.history = history
        self.backends = [(b.name, b.cinder_host, b.cinder_cluster)
                         for b in backends]
        self._stop = threading.Event()
        self._listener = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='cinder-listener')

    def start(self):
        self._thread.start()

    def _exchange(self):
        """Cinder's exchange: never this process's control exchange, which
        its RPC sets to its own (reconciler.rpc.api); Cinder keeps
        oslo.messaging's default unless its configuration files say.
        """
        group = self.conf.cinder_notifications
        if group.exchange:
            return group.exchange
        location = self.conf.get_location('control_exchange').location
        if location in (cfg.Locations.opt_default,
                        cfg.Locations.set_default):
            return CINDER_EXCHANGE
        return self.conf.control_exchange

    def _targets(self):
        group = self.conf.cinder_notifications
        topics = group.topics or self.conf.oslo_messaging_notifications.topics
        exchange = self._exchange()
        return [oslo_messaging.Target(exchange=exchange, topic=t)
                for t in topics]

    def _run(self):
        group = self.conf.cinder_notifications
        while not self._stop.is_set():
            try:
                self._listen(group)
                return
            except Exception as e:
                LOG.warning("Cannot listen to Cinder's notifications, "
                            'retrying in %d s: %s', group.restart_interval,
                            exception.describe(e))
            self._stop.wait(group.restart_interval)

    def _listen(self, group):
        transport = oslo_messaging.get_notification_transport(
            self.conf, url=group.transport_url)
        listener = oslo_messaging.get_batch_notification_listener(
            transport, self._targets(),
            [_Endpoint(self.history, self.backends, self._stop)],
            executor='threading', allow_requeue=True, pool=group.pool,
            batch_size=BATCH_SIZE, batch_timeout=BATCH_TIMEOUT)
        try:
            # Blocks while the broker is down (reconnecting).
            listener.start()
            with self._lock:
                if self._stop.is_set():
                    return      # stopped meanwhile: do not consume
                self._listener = listener
            now = time.time()
            self.history.record_events(
                [cinder_events.started(name, self.conf.host, now)
                 for name, _, _ in self.backends], now)
            LOG.info("Listening to Cinder's notifications on %s, exchange "
                     '%s (pool %s)',
                     ', '.join(t.topic for t in self._targets()),
                     self._exchange(), group.pool)
            self._stop.wait()
        finally:
            with self._lock:
                self._listener = None
            listener.stop()
            listener.wait()
            transport.cleanup()

    def stop(self, timeout=2):
        """Stop consuming; the batch under way is waited for ``timeout``
        seconds. A thread still connecting to a broker that is down is
        left behind (a daemon thread: it stops as soon as it connects);
        a batch cut short was not acknowledged, so the broker delivers
        it again.
        """
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
