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
"""

import datetime

from reconciler import model

#: The event type of a listener's start marker: events may be missing
#: from before it.
LISTENER_STARTED = 'reconciler.listener.started'

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
        when = datetime.datetime.fromisoformat(str(timestamp))
    except ValueError:
        return default
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when.timestamp()


def parse(publisher_id, event_type, payload, metadata, backends, now):
    """The :class:`model.CinderEvent` to record, or None.

    None for the events not listed above, a payload without the
    resource's id, or a host on none of ``backends``. Only the keys of
    ``_KEPT`` (and the attached hosts) are kept, as short strings.
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
    host = payload.get('host') if rtype == 'volume' else None
    if not isinstance(host, str) or not host:
        host = _host(publisher_id)
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


def verdict(events):
    """What one resource's events, oldest first, say: UNMANAGED, DELETED
    or None (nothing, or back in Cinder since).

    A volume is unmanaged by ``volume.unmanage.end``; a snapshot by a
    ``snapshot.delete.end`` whose ``delete.start`` said ``unmanaging``
    (without that start the end counts as a delete). A later create or
    manage of the same id undoes either.
    """
    state, unmanaging = None, False
    for event in events:
        action = event.event_type.partition('.')[2]
        if action == 'unmanage.end':
            state, unmanaging = UNMANAGED, False
        elif action == 'delete.start':
            unmanaging = dict(event.payload).get('status') == 'unmanaging'
        elif action == 'delete.end':
            state = UNMANAGED if unmanaging else DELETED
            unmanaging = False
        elif action in _REBORN:
            state, unmanaging = None, False
    return state


def _iso(epoch):
    return datetime.datetime.fromtimestamp(
        epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


#: Events a finding's evidence names, the newest.
EVIDENCE_EVENTS = 4


def evidence(events):
    """The newest events as a finding's detail: one short line."""
    seen, words = set(), []
    for event in events:
        if event.message_id and event.message_id in seen:
            continue    # delivered twice
        seen.add(event.message_id)
        status = dict(event.payload).get('status')
        words.append('%s%s at %s' % (
            event.event_type,
            ' (unmanaging)' if status == 'unmanaging' else '',
            _iso(event.emitted_at)))
    return '; '.join(words[-EVIDENCE_EVENTS:])
