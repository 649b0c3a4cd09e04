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

"""Cinder's volume and snapshot notifications: what is kept, what they mean.

Pure functions, no I/O: the listener (reconciler.listener) hands each
notification to :func:`parse`, the history stores what it returns, and the
engine asks :func:`verdict` what a resource's recorded events say.

What Cinder 29 emits (cinder/volume/volume_utils.py ``notify_about_*_usage``
and cinder/volume/manager.py, flows/manager/*), publisher ``volume.<host>``
or ``snapshot.<host>``:

- ``volume.create.start/end``, ``volume.delete.start/end``,
  ``volume.unmanage.start/end``, ``volume.manage_existing.start/end``,
  ``volume.retype``, ``volume.attach.start/end``,
  ``volume.detach.start/end``; the payload names the volume
  (``volume_id``) and its ``host`` (``host@backend#pool``), and carries its
  attachments with their connection_info, which is never kept.
- ``snapshot.create.start/end``, ``snapshot.delete.start/end``,
  ``snapshot.manage_existing_snapshot.start/end``; the payload has no host
  (the publisher's is the volume service's ``host@backend``). A snapshot
  unmanage is announced as ``snapshot.delete.*``: only the ``status`` of
  its ``delete.start`` (``unmanaging``, not ``deleting``) tells them apart.
- No migration event: a migration shows as the create and delete of its
  temporary volume (whose id is not the migrated volume's).
- Not only volume services publish: cinder-api publishes ``volume.<its
  host>`` (no ``@backend``) for attachments it completes and detaches it
  ends, volume-usage-audit replays creates and deletes; an unmanage is
  only ever published by the volume service that held the volume, and it
  destroys the row before it says ``unmanage.end`` (``delete.end`` alike).

An event is evidence only where nothing contradicts it (see
:func:`parse` and :func:`contradicted`): anyone on the bus can publish
one, and a notification misrouted or sent in error must never hide an
orphan.
"""


from reconciler import model
from reconciler import utctime

#: The event type of a listener's start marker: events may be missing
#: from before it.
LISTENER_STARTED = 'reconciler.listener.started'
#: The event type of a marker voiding a recorded event (its ``voids``:
#: the event's id): a listing showed the resource's row after that event.
LISTED = 'reconciler.listed'

VOLUME_EVENTS = frozenset(
    'volume.' + suffix for suffix in (
        'create.start', 'create.end', 'delete.start', 'delete.end',
        'unmanage.start', 'unmanage.end', 'manage_existing.start',
        'manage_existing.end', 'retype', 'attach.start', 'attach.end',
        'detach.start', 'detach.end'))
SNAPSHOT_EVENTS = frozenset(
    'snapshot.' + suffix for suffix in (
        'create.start', 'create.end', 'delete.start', 'delete.end',
        'manage_existing_snapshot.start', 'manage_existing_snapshot.end'))
#: The event types the listener asks the broker for (a filter rule).
EVENT_TYPE_PATTERN = r'^(volume|snapshot)\.'

# The payload keys kept, all plain values: never connection_info,
# connector, metadata nor the names users gave.
_KEPT = {'volume': ('status', 'size', 'volume_type', 'tenant_id'),
         'snapshot': ('status', 'volume_id', 'volume_size', 'tenant_id')}
_MAX_VALUE = 255
_MAX_HOSTS = 8
#: Events after which Cinder has destroyed the resource's row.
DELETE_EVENTS = frozenset(('volume.delete.end', 'volume.unmanage.end',
                           'snapshot.delete.end'))
# Published only by the volume service that held the volume.
_SERVICE_ONLY = frozenset(('volume.unmanage.start', 'volume.unmanage.end'))
# Back in Cinder's hands: whatever was recorded before no longer counts.
_REBORN = ('create.start', 'create.end', 'manage_existing.start',
           'manage_existing.end', 'manage_existing_snapshot.start',
           'manage_existing_snapshot.end')

UNMANAGED = 'unmanaged'
DELETED = 'deleted'


def _short(value):
    return None if value is None else str(value)[:_MAX_VALUE]


def _host(publisher_id):
    """``host`` of a ``volume.<host>`` publisher id (hosts have dots)."""
    return (publisher_id or '').partition('.')[2] or None


def _backend_part(host):
    return (host or '').partition('#')[0]


def backend_for(host, backends):
    """The name of the backend ``host`` (``host@backend#pool``) is on.

    ``backends`` are ``(name, cinder_host, cinder_cluster)``. A clustered
    backend's volumes carry the host of whichever member made them, which
    the events never map to the cluster: any ``<member>@<name>`` matches.
    None if no backend matches.
    """
    bare = _backend_part(host)
    for name, cinder_host, cluster in backends:
        if bare == cinder_host or (
                cluster and bare.partition('@')[2] == name and bare):
            return name
    return None


def _attached_hosts(attachments):
    hosts = set()
    for att in attachments if isinstance(attachments, list) else ():
        if isinstance(att, dict) and att.get('attached_host'):
            hosts.add(_short(att['attached_host']))
    return ','.join(sorted(hosts)[:_MAX_HOSTS]) or None


def _emitted(timestamp, default):
    """Cinder's timestamp (``str(utcnow())``: naive UTC) as epoch."""
    try:
        return utctime.parse(str(timestamp))
    except ValueError:
        return default


def _same_backend(publisher, host, backends):
    """Whether a publisher's ``host@backend`` and a payload's host are on
    one backend: the same one, or members of one clustered backend.
    """
    if _backend_part(publisher) == _backend_part(host):
        return True
    name = backend_for(publisher, backends)
    return name is not None and name == backend_for(host, backends)


def parse(publisher_id, event_type, payload, metadata, backends, now):
    """The :class:`model.CinderEvent` to record, or None.

    None for the events not listed above, a payload without the
    resource's id, or a host on none of ``backends``. Only the keys of
    ``_KEPT`` (and the attached hosts) are kept, as short strings.

    None too, evidence for no backend, where the publisher and the payload
    disagree: a volume service (``volume.<host@backend>``) publishing about
    a volume on another backend, or an unmanage published by anything but
    a volume service.
    """
    if event_type in VOLUME_EVENTS:
        rtype, id_key = 'volume', 'volume_id'
    elif event_type in SNAPSHOT_EVENTS:
        rtype, id_key = 'snapshot', 'snapshot_id'
    else:
        return None
    if not isinstance(payload, dict):
        return None
    resource_id = payload.get(id_key)
    if not isinstance(resource_id, str) or not resource_id:
        return None
    publisher = _host(publisher_id)
    host = payload.get('host') if rtype == 'volume' else None
    if not isinstance(host, str) or not host:
        host = publisher
    elif '@' in (publisher or ''):
        if not _same_backend(publisher, host, backends):
            return None
    elif event_type in _SERVICE_ONLY:
        return None
    backend = backend_for(host, backends)
    if backend is None:
        return None
    kept = {k: _short(payload.get(k)) for k in _KEPT[rtype]}
    if event_type.startswith(('volume.attach', 'volume.detach')):
        kept['attached_hosts'] = _attached_hosts(
            payload.get('volume_attachment'))
    metadata = metadata if isinstance(metadata, dict) else {}
    return model.CinderEvent(
        backend=backend, event_type=event_type, resource_type=rtype,
        resource_id=_short(resource_id), host=_short(host),
        emitted_at=_emitted(metadata.get('timestamp'), now),
        message_id=_short(metadata.get('message_id')),
        payload=tuple(sorted((k, v) for k, v in kept.items()
                             if v is not None)))


def started(backend, host, now):
    """A listener's start marker for ``backend``."""
    return model.CinderEvent(backend=backend, event_type=LISTENER_STARTED,
                             resource_type=None, resource_id=None,
                             host=host, emitted_at=now)


def listed(event, at):
    """A marker voiding ``event`` (recorded, with an id): its resource's row
    was listed by a listing that began at ``at`` (our clock).
    """
    return model.CinderEvent(
        backend=event.backend, event_type=LISTED,
        resource_type=event.resource_type, resource_id=event.resource_id,
        host=None, emitted_at=at, payload=(('voids', str(event.id)),))


def voided(events):
    """Ids (as text) of the events the ``LISTED`` markers among ``events``
    void.
    """
    return {dict(e.payload).get('voids') for e in events
            if e.event_type == LISTED}


def contradicted(events, alive, started, margin):
    """Markers voiding the delete and unmanage ``events`` a listing
    contradicts.

    ``alive``: ids of the rows a listing (or point look-up) that began at
    ``started`` (our clock) showed. Cinder destroys a row before it says
    ``delete.end`` or ``unmanage.end``, and the listener records an event
    after it was said: a row listed by a request sent more than ``margin``
    seconds (the clocks of the reconciler's hosts may differ) after its
    event was recorded outlived the event, which is therefore false (sent
    in error, or by someone else) and counts for nothing from then on.
    ``events`` may hold markers already recorded: their events are not
    voided twice.
    """
    void = voided(events)
    return [listed(e, started) for e in events
            if e.event_type in DELETE_EVENTS and e.id is not None
            and str(e.id) not in void and e.resource_id in alive
            and e.recorded_at is not None
            and e.recorded_at + margin < started]


def verdict(events):
    """What one resource's events, oldest first, say: UNMANAGED, DELETED
    or None (nothing, or back in Cinder since).

    A volume is unmanaged by ``volume.unmanage.end``; a snapshot by a
    ``snapshot.delete.end`` whose ``delete.start`` said ``unmanaging``
    (without that start the end counts as a delete). A later create or
    manage of the same id undoes either. An event a listing contradicted
    (a ``LISTED`` marker voids it) counts for nothing.
    """
    return decide(events)[0]


def decide(events):
    """``(verdict(events), the event deciding it or None)``."""
    void = voided(events)
    state, unmanaging, by = None, False, None
    for event in events:
        if event.event_type == LISTED or str(event.id) in void:
            continue
        action = event.event_type.partition('.')[2]
        if action == 'unmanage.end':
            state, unmanaging, by = UNMANAGED, False, event
        elif action == 'delete.start':
            unmanaging = dict(event.payload).get('status') == 'unmanaging'
        elif action == 'delete.end':
            state = UNMANAGED if unmanaging else DELETED
            unmanaging, by = False, event
        elif action in _REBORN:
            state, unmanaging, by = None, False, None
    return state, by


#: Events a finding's evidence names, the newest.
EVIDENCE_EVENTS = 4


def evidence(events):
    """The newest events as a finding's detail: one short line."""
    seen, words = set(), []
    void = voided(events)
    for event in events:
        if event.message_id and event.message_id in seen:
            continue    # delivered twice
        seen.add(event.message_id)
        if event.event_type == LISTED:
            continue    # said by the event it voids
        status = dict(event.payload).get('status')
        words.append('%s%s at %s%s' % (
            event.event_type,
            ' (unmanaging)' if status == 'unmanaging' else '',
            utctime.iso(event.emitted_at),
            ' (void: its row was listed later)'
            if str(event.id) in void else ''))
    return '; '.join(words[-EVIDENCE_EVENTS:])
