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

"""Announce finding transitions and failed passes over oslo.messaging.

Events are first written to history's outbox in the same transaction as the
transition they announce, then delivered by ``flush``, outside the pass; an
event leaves the outbox only once the broker accepted it (RabbitMQ publisher
confirms), so nothing is lost while the broker is down. Delivery is at least
once: a flusher that dies between the broker's acceptance and the outbox
delete sends that event again. Each event carries a stable ``event_id`` (also
the message id) for de-duplication.

oslo.messaging's ``Notifier`` and its ``messaging``/``messagingv2`` drivers
log and swallow delivery errors, which would make a failed send look
delivered. ``flush`` therefore loads the configured drivers itself and, for
those two, hands each message to the transport's notification send with the
driver's own topics and format version: the same message on the wire, but a
failure (``MessageDeliveryFailure`` after ``notification_retry`` reconnection
attempts) reaches us and the event stays. Other drivers (``log``, ``noop``,
``routing``) are called as they are.

Payload (version 1.1)::

    {"payload_version": "1.1", "event_id": uuid, "backend": name,
     "kind": "array_only"|"cinder_only"|"orphan_export"|"stale_temporary"|
             "foreign",
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

``details`` holds ``ownership_evidence`` = ``name`` when only a name
that could decode by chance ties the object to Cinder (NEC, 3PAR), and for
a ``stale_temporary`` the volume or snapshot it served (``holder_type``,
``holder``) and that one's state (``holder_state``). Version 1.0 had no
``stale_temporary`` kind.

``reconciler.run.failed``: ``{"payload_version", "event_id", "backend",
"run_id", "error", "time"}``.

``reconciler.remediation.done``, ``.skipped`` and ``.failed`` (an applied
step; a dry run announces nothing), and ``.abandoned`` (a step whose
process died while it ran; a later step may find its effect and record it
done): ``{"payload_version", "event_id", "backend", "finding_id", "kind",
"resource_type", "resource_id", "action", "target", "result", "reason",
"actor", "action_id", "time"}``, where action is adopt, quarantine,
unexport, reset, delete or disconnect, result is done, skipped, failed or
abandoned, and reason says why (or what was done).
"""

import datetime
import threading
import time
import uuid

from oslo_log import log as logging
import oslo_messaging
from oslo_messaging.notify import messaging as messaging_driver
from stevedore import named

from reconciler import model

LOG = logging.getLogger(__name__)

PAYLOAD_VERSION = '1.1'
DETECTED = 'reconciler.orphan.detected'
RESOLVED = 'reconciler.orphan.resolved'
RUN_FAILED = 'reconciler.run.failed'
PRIORITY = 'INFO'
# Events one flusher claims at a time, and how long its claim lasts: long
# enough to send them, after which a flusher that died gives them back.
CLAIM_BATCH = 20
CLAIM_SECONDS = 300


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


def remediation_event(finding, action, target, result, reason, actor,
                      action_id, now):
    return ('reconciler.remediation.%s' % result, {
        'payload_version': PAYLOAD_VERSION, 'event_id': str(uuid.uuid4()),
        'backend': finding.backend, 'finding_id': finding.id,
        'kind': str(finding.kind),
        'resource_type': str(finding.resource_type),
        'resource_id': finding.resource_id, 'action': action,
        'target': target, 'result': result, 'reason': reason,
        'actor': actor, 'action_id': action_id, 'time': _iso(now)})


def run_failed_event(backend, run_id, error, now):
    return (RUN_FAILED, {
        'payload_version': PAYLOAD_VERSION, 'event_id': str(uuid.uuid4()),
        'backend': backend, 'run_id': run_id, 'error': error,
        'time': _iso(now)})


class Notifier(object):
    """Delivers outbox events through oslo.messaging notification drivers."""

    def __init__(self, conf, retry=None):
        self.publisher_id = 'reconciler.%s' % conf.host
        self.retry = (conf.reconciler.notification_retry if retry is None
                      else retry)
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
                   'event_type': event_type, 'priority': PRIORITY,
                   'payload': payload,
                   'timestamp': str(datetime.datetime.utcnow())}
        for ext in self.drivers.extensions:
            driver = ext.obj
            if isinstance(driver, messaging_driver.MessagingDriver):
                self._publish(driver, message)
            else:
                driver.notify({}, dict(message), PRIORITY, self.retry)

    def _publish(self, driver, message):
        """What ``driver.notify`` sends, raising when it was not accepted.

        ``Transport._send_notification`` is private to oslo.messaging, but
        it is the call ``MessagingDriver.notify`` makes, and no public path
        confirms delivery: ``Notifier`` and its drivers return nothing and
        log a failure. ``test_notifier`` pins the signature and that we
        send what the driver sends, so an oslo.messaging release that
        changes either fails there, not on an operator's broker.
        """
        for topic in driver.topics:
            target = oslo_messaging.Target(
                topic='%s.%s' % (topic, PRIORITY.lower()))
            # The transport adds its own keys to the message it is given.
            driver.transport._send_notification(
                target, {}, dict(message), version=driver.version,
                retry=self.retry)

    def flush(self, history, timeout=None):
        """Send pending events oldest first; the number sent.

        Stops at the first failure, and when ``timeout`` seconds passed
        (checked between events): what is left stays for a later flush.
        Events are claimed in the history first, so concurrent flushers,
        in this process or another, never send the same event.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._flushing:
            sent = 0
            while deadline is None or time.monotonic() < deadline:
                done, more = self._flush_batch(history, deadline)
                sent += done
                if not more:
                    break
            return sent

    def _flush_batch(self, history, deadline):
        """Send one claimed batch: (sent, whether to go on)."""
        claim = uuid.uuid4().hex
        batch = history.claim_notifications(claim, time.time(),
                                            CLAIM_SECONDS, CLAIM_BATCH)
        sent = 0
        try:
            for item in batch:
                if deadline is not None and time.monotonic() >= deadline:
                    return sent, False
                if self.enabled:
                    try:
                        self._send(item.event_type, item.payload)
                    except Exception as e:
                        LOG.warning('Notification %s (%s) not sent, will '
                                    'retry: %s', item.id, item.event_type,
                                    type(e).__name__)
                        history.notification_failed(item.id,
                                                    type(e).__name__)
                        return sent, False
                history.notification_sent(item.id)
                sent += 1
        finally:
            if sent < len(batch):
                history.release_notifications(claim)
        return sent, len(batch) == CLAIM_BATCH

    def close(self):
        self.transport.cleanup()


class Flusher(object):
    """The daemon's outbox flusher: a thread of its own, so no pass ever
    waits for the broker.

    It flushes every ``interval`` seconds and as soon as ``wake`` is called
    (after a pass recorded events).
    """

    def __init__(self, notifier, history, interval):
        self.notifier = notifier
        self.history = history
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name='outbox-flusher')

    def start(self):
        self._thread.start()

    def wake(self):
        self._wake.set()

    def _run(self):
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.notifier.flush(self.history)
            except Exception:
                LOG.exception('Notification outbox flush failed')
            self._wake.wait(self.interval)

    def stop(self, timeout=10):
        """Stop; a send under way is waited for ``timeout`` seconds."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
