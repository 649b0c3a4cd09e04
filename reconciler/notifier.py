"""Announce finding transitions and failed passes over oslo.messaging.

Events are first written to history's outbox in the same transaction as the
transition they announce, then delivered by ``flush``; an event that could
not be sent stays in the outbox and is retried, so nothing is lost when the
broker is down. Each event carries a stable ``event_id`` for de-duplication.

oslo.messaging's ``Notifier`` logs and swallows delivery errors, which would
make a failed send look delivered; ``flush`` therefore hands messages to the
configured notification drivers (oslo.messaging's public driver plugins)
itself, so that a failure is seen and the event kept.

Payload (version 1.0)::

    {"payload_version": "1.0", "event_id": uuid, "backend": name,
     "kind": "array_only"|"cinder_only"|"orphan_export"|"foreign",
     "resource_type": "volume"|"snapshot"|"export", "resource_id": str,
     "cinder_id": uuid|null, "array_name": str|null, "project_id": str|null,
     "state": "confirmed"|"resolved", "first_seen": iso8601,
     "sightings": int, "details": {str: str}}

Host findings (the host unit, ``reconciler.host``) use the same payload
with ``"backend": "host:<connector host>"``, ``kind`` one of
``leftover_device``, ``faulty_map``, ``faulty_attached``, ``stale_session``,
``missing_device``, ``resource_type`` one of ``device``, ``multipath``,
``session``, ``attachment``, ``array_name`` the device (``/dev/dm-3``) or
target, and the devices, WWID, target, LUN and mapping in ``details``.

``reconciler.run.failed``: ``{"payload_version", "event_id", "backend",
"run_id", "error", "time"}``.
"""

import datetime
import threading
import uuid

from oslo_log import log as logging
import oslo_messaging
from stevedore import named

from reconciler import model

LOG = logging.getLogger(__name__)

PAYLOAD_VERSION = '1.0'
DETECTED = 'reconciler.orphan.detected'
RESOLVED = 'reconciler.orphan.resolved'
RUN_FAILED = 'reconciler.run.failed'


def _iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).isoformat()


def finding_events(transitions, kinds):
    """Events for transitions: confirmations and resolutions of confirmed."""
    events = []
    for t in transitions:
        if t.candidate.kind not in kinds:
            continue
        if t.new_state == model.FindingState.CONFIRMED:
            event_type = DETECTED
        elif (t.new_state == model.FindingState.RESOLVED
              and t.old_state == model.FindingState.CONFIRMED):
            event_type = RESOLVED
        else:
            continue
        c = t.candidate
        events.append((event_type, {
            'payload_version': PAYLOAD_VERSION,
            'event_id': str(uuid.uuid4()),
            'backend': t.backend, 'kind': str(c.kind),
            'resource_type': str(c.resource_type),
            'resource_id': c.resource_id, 'cinder_id': c.cinder_id,
            'array_name': c.array_name, 'project_id': c.project_id,
            'state': str(t.new_state), 'first_seen': _iso(t.first_seen),
            'sightings': t.sightings, 'details': dict(c.details)}))
    return events


def run_failed_event(backend, run_id, error, now):
    return (RUN_FAILED, {
        'payload_version': PAYLOAD_VERSION, 'event_id': str(uuid.uuid4()),
        'backend': backend, 'run_id': run_id, 'error': error,
        'time': _iso(now)})


class Notifier(object):
    """Delivers outbox events through oslo.messaging notification drivers."""

    def __init__(self, conf, retry=3):
        self.publisher_id = 'reconciler.%s' % conf.host
        self.retry = retry
        self._flushing = threading.Lock()
        # Registers and reads [oslo_messaging_notifications].
        self.transport = oslo_messaging.get_notification_transport(conf)
        group = conf.oslo_messaging_notifications
        self.drivers = named.NamedExtensionManager(
            'oslo.messaging.notify.drivers', names=group.driver,
            invoke_on_load=True, invoke_args=[conf],
            invoke_kwds={'topics': group.topics, 'transport': self.transport})

    @property
    def enabled(self):
        return bool(self.drivers.extensions)

    def _send(self, event_type, payload):
        message = {'message_id': payload['event_id'],
                   'publisher_id': self.publisher_id,
                   'event_type': event_type, 'priority': 'INFO',
                   'payload': payload,
                   'timestamp': str(datetime.datetime.utcnow())}
        for ext in self.drivers.extensions:
            ext.obj.notify({}, message, 'INFO', self.retry)

    def flush(self, history, limit=500):
        """Send pending events oldest first; stop at the first failure.

        Backend threads and the outbox timer all flush; one at a time, or
        two could send the same event.
        """
        with self._flushing:
            return self._flush(history, limit)

    def _flush(self, history, limit):
        sent = 0
        for item in history.pending_notifications(limit):
            if self.enabled:
                try:
                    self._send(item.event_type, item.payload)
                except Exception as e:
                    LOG.warning('Notification %s (%s) not sent, will retry: '
                                '%s', item.id, item.event_type,
                                type(e).__name__)
                    history.notification_failed(item.id, type(e).__name__)
                    break
            history.notification_sent(item.id)
            sent += 1
        return sent

    def close(self):
        self.transport.cleanup()
