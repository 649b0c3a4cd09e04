"""Cinder's view of one backend, through python-cinderclient.

Volumes and snapshots of all projects on ``host@backend``, every page
followed, kept as compact records rather than client objects. Any error makes
the whole listing fail: a partial inventory must never reach the engine.

The client is keystoneauth's adapter loaded from ``[cinder]`` (as
cinderclient's session client), so every documented session, auth and
adapter option reaches the requests. Each request times out
(``[cinder] timeout``) and a whole listing has a deadline (``[cinder]
listing_timeout``): a stalled cinder-api can never hold a pass, and its
backend lock, for ever.
"""

import contextlib
import dataclasses
import sys
import threading
import time
import urllib.parse

from cinderclient import api_versions
from cinderclient import client as cinder_client
from cinderclient import exceptions as cinder_exc
from cinderclient.v3 import client as cinder_v3
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import loading as ks_loading
from keystoneauth1.loading import adapter as ks_adapter_loading
from oslo_log import log as logging

from reconciler import exception
from reconciler.inventory import windows
from reconciler import log_masking
from reconciler import model

LOG = logging.getLogger(__name__)

# 3.14 shows group_snapshot_id on snapshots; 3.45 is Rocky, old enough for
# every supported cloud. 3.61 (Wallaby) shows a volume's cluster_name, which
# a clustered backend's re-checks need.
MICROVERSION = '3.45'
CLUSTER_MICROVERSION = '3.61'
LISTING_ATTEMPTS = 3


def _safe(error):
    """An exception's text without anything that looks like a secret."""
    return log_masking.mask('%s: %s' % (type(error).__name__, error))


def _shared(value):
    """One copy of a value many records repeat (host, status, project).

    With 100,000 volumes a pass otherwise keeps 100,000 copies of a handful
    of strings.
    """
    return sys.intern(value) if isinstance(value, str) else value


def _volume(item):
    attachments = tuple(
        model.CinderAttachment(host_name=_shared(a.get('host_name')),
                               instance_id=a.get('server_id'),
                               attachment_id=a.get('attachment_id'))
        for a in item.get('attachments') or ())
    return model.CinderVolume(
        id=item['id'],
        name_id=item.get('os-vol-mig-status-attr:name_id'),
        host=_shared(item.get('os-vol-host-attr:host')),
        status=_shared(item['status']),
        migration_status=_shared(item.get('os-vol-mig-status-attr:migstat')),
        project_id=_shared(item.get('os-vol-tenant-attr:tenant_id')),
        attachments=attachments,
        cluster_name=_shared(item.get('cluster_name')),
        created_at=item.get('created_at'),
        updated_at=item.get('updated_at'))


def _snapshot(item):
    return model.CinderSnapshot(
        id=item['id'], volume_id=item['volume_id'],
        status=_shared(item['status']),
        project_id=_shared(
            item.get('os-extended-snapshot-attributes:project_id')),
        group_snapshot_id=item.get('group_snapshot_id'),
        created_at=item.get('created_at'),
        updated_at=item.get('updated_at'))


class _SessionClientLoader(ks_adapter_loading.Adapter):
    """keystoneauth's adapter loader, building cinderclient's adapter.

    cinderclient's session client is a keystoneauth adapter that raises
    cinderclient's exceptions and sends the microversion header.
    """

    @property
    def plugin_class(self):
        return cinder_client.SessionClient


def load_client(conf):
    """The ``[cinder]`` client: session, auth and adapter options."""
    try:
        auth = ks_loading.load_auth_from_conf_options(conf, 'cinder')
        session = ks_loading.load_session_from_conf_options(
            conf, 'cinder', auth=auth)
        # cluster_name shows from 3.61 (Wallaby): asked for only where a
        # clustered backend needs it.
        version = (CLUSTER_MICROVERSION if (conf.cluster or '').strip()
                   else MICROVERSION)
        return _SessionClientLoader().load_from_conf_options(
            conf, 'cinder', session=session, auth=auth,
            api_version=api_versions.APIVersion(version))
    except (ks_exc.ClientException, TypeError) as e:
        raise exception.ConfigError('[cinder] options: %s' % _safe(e))


def managers(http):
    """cinderclient's resource managers (volumes, snapshots...) over
    ``http``, a client from :func:`load_client`, so they send its requests
    with every ``[cinder]`` option.
    """
    client = cinder_v3.Client(
        api_version=api_versions.APIVersion(MICROVERSION),
        session=http.session)
    client.client = http
    return client


class CinderInventory(object):
    """Listings and point look-ups against Cinder's API for one pass."""

    listing_attempts = LISTING_ATTEMPTS

    def __init__(self, conf):
        group = conf.cinder
        self.page_size = group.page_size
        self.listing_timeout = group.listing_timeout
        # A request is tried 1 + connect_retries times, each within the
        # share of the listing's time left.
        self._attempts = 1 + (group.connect_retries or 0)
        self.client = load_client(conf)
        self.requests = 0
        # Windows of a listing count their requests from several threads.
        self._counting = threading.Lock()
        self._deadline = None
        self._windows = windows.WindowedListing(self, group.listing_workers)

    @contextlib.contextmanager
    def _listing(self):
        """Bound every request of a listing by its overall deadline."""
        if self._deadline is not None:
            yield  # Nested: the outer listing's deadline holds.
            return
        self._deadline = time.monotonic() + self.listing_timeout
        try:
            yield
        finally:
            self._deadline = None

    def _timeout(self, path):
        """Per-request ``timeout`` argument: the time the listing has left."""
        if self._deadline is None:
            return {}
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exception.CinderError(
                'Cinder GET %s: the listing took longer than [cinder] '
                'listing_timeout (%d s)' % (path, self.listing_timeout))
        per_attempt = left / self._attempts
        session_timeout = self.client.session.timeout
        if session_timeout:
            per_attempt = min(per_attempt, session_timeout)
        return {'timeout': per_attempt}

    def _get(self, url, missing_ok=True, log=True, raises=(), **request):
        """GET a JSON object; ``log=False`` keeps the body out of the logs.

        ``raises``: cinderclient exceptions the caller handles itself;
        ``request``: more keystoneauth request arguments (``microversion``).
        """
        with self._counting:
            self.requests += 1
        path = url.split('?')[0]
        try:
            _resp, body = self.client.get(url, log=log, **request,
                                          **self._timeout(path))
        except cinder_exc.NotFound:
            if missing_ok:
                return None
            raise
        except raises:
            raise
        except (cinder_exc.ClientException, ks_exc.ClientException) as e:
            raise exception.CinderError('Cinder GET %s failed: %s'
                                        % (path, _safe(e)))
        if not isinstance(body, dict):
            raise exception.CinderError('Cinder GET %s: body is not JSON'
                                        % path)
        return body

    def _full_pages(self, path, key, convert, **scope):
        """A whole listing of ``scope``: in windows if configured."""
        return self._windows.pages(path, key, convert, scope)

    def _pages(self, path, key, convert, **filters):
        """Every item of a paginated listing, or an exception.

        Items are converted page by page (no client objects are kept).
        Pages are sorted by id and chained by marker. Cinder answers 404
        when the marker was deleted in between; the listing then starts
        over (a partial listing must never be returned), a few times at most.
        """
        for _attempt in range(LISTING_ATTEMPTS):
            try:
                return [convert(item)
                        for item in self._chain(path, key, filters)]
            except cinder_exc.NotFound:
                LOG.info('Cinder %s: page marker deleted meanwhile, listing '
                         'again', path)
        raise exception.CinderError(
            'Cinder GET %s: the listing kept changing under us (%d attempts)'
            % (path, LISTING_ATTEMPTS))

    def _chain(self, path, key, filters, sort='id:asc', limit=None,
               **request):
        """Items page by page; a ``marker`` in ``filters`` starts after it."""
        marker = None
        while True:
            params = dict(filters, all_tenants=1,
                          limit=limit or self.page_size, sort=sort)
            if marker:
                params['marker'] = marker
            body = self._get('%s?%s' % (path, urllib.parse.urlencode(params)),
                             missing_ok=False, **request)
            items = body.get(key)
            if not isinstance(items, list):
                raise exception.CinderError(
                    'Cinder GET %s returned no %s list' % (path, key))
            yield from items
            links = body.get('%s_links' % key) or ()
            if not items or not any(link.get('rel') == 'next'
                                    for link in links):
                return
            marker = items[-1]['id']

    def view(self, backend_host, cluster=None):
        """Volumes and snapshots on ``backend_host`` (``host@backend``).

        With ``cluster`` (``cluster@backend`` of an active/active backend),
        those of the cluster instead: each carries the host of the member
        that created it. Cinder filters both by ``cluster_name`` (admins may
        use any filter), snapshots through their volume.
        """
        start = time.monotonic()
        requests = self.requests
        scope = dict(cluster_name=cluster) if cluster else dict(
            host=backend_host)
        try:
            with self._listing():
                volumes = tuple(self._full_pages('/volumes/detail',
                                                 'volumes', _volume, **scope))
                # Filtered through the parent volume's host by Cinder; keep
                # only those whose parent we listed, should it ever widen.
                ids = {v.id for v in volumes}
                snapshots = tuple(s for s in self._full_pages(
                    '/snapshots/detail', 'snapshots', _snapshot, **scope)
                    if s.volume_id in ids)
        except (KeyError, TypeError) as e:
            raise exception.CinderError('Cinder listing malformed: %s'
                                        % _safe(e))
        LOG.debug('Cinder view of %s: %d volumes, %d snapshots',
                  cluster or backend_host, len(volumes), len(snapshots))
        return model.CinderView(
            backend_host=backend_host, volumes=volumes, snapshots=snapshots,
            fetched_at=time.time(), seconds=time.monotonic() - start,
            requests=self.requests - requests, cluster=cluster)

    # Point look-ups for re-checks: None means "no live row".

    def get_volume(self, volume_id):
        """A live volume, its attachments' initiators filled in."""
        body = self._get('/volumes/%s' % volume_id)
        if not body:
            return None
        volume = _volume(body['volume'])
        return dataclasses.replace(volume, attachments=tuple(
            dataclasses.replace(a, initiators=self._initiators(a))
            for a in volume.attachments))

    def _initiators(self, attachment):
        """WWNs from the attachment's connection_info (FC exposes them).

        connection_info can hold CHAP secrets: only the initiator names are
        taken from it, and it is neither logged (not even by keystoneauth's
        debug logging of bodies) nor kept.
        """
        if not attachment.attachment_id:
            return frozenset()
        body = self._get('/attachments/%s' % attachment.attachment_id,
                         log=False)
        info = ((body or {}).get('attachment') or {}).get('connection_info')
        data = info.get('data', info) if isinstance(info, dict) else None
        if not isinstance(data, dict):
            return frozenset()
        found = set(data.get('initiator_target_map') or ())
        if isinstance(data.get('initiator'), str):
            found.add(data['initiator'])
        return frozenset(i.lower() for i in found if isinstance(i, str))

    def volume_with_key(self, key):
        """A live volume whose id or name_id is ``key``, else None."""
        volume = self.get_volume(key)
        if volume is not None:
            return volume
        for volume in self._pages('/volumes/detail', 'volumes', _volume,
                                  _name_id=key):
            if volume.name_id == key:
                return volume
        return None

    def manageable(self, backend_host, resource):
        """Cinder's manageable-resources listing of one backend.

        ``resource`` is ``volumes`` or ``snapshots``. The volume service
        asks its driver, which pages by ``offset`` (no links): pages are
        requested until one comes back empty.
        """
        with self._listing():
            return self._manageable_pages(backend_host, resource)

    def _manageable_pages(self, backend_host, resource):
        path = '/manageable_%s/detail' % resource
        key = 'manageable-%s' % resource
        entries = []
        while True:
            url = '%s?%s' % (path, urllib.parse.urlencode(dict(
                host=backend_host, limit=self.page_size, offset=len(entries),
                sort='reference:asc')))
            try:
                body = self._get(url, missing_ok=False)
            except cinder_exc.NotFound as e:
                raise exception.CinderError(
                    'Cinder GET %s: %s' % (path, _safe(e)))
            page = body.get(key)
            if not isinstance(page, list):
                raise exception.CinderError(
                    'Cinder GET %s returned no %s list' % (path, key))
            if not page:
                return entries
            entries += page

    def get_snapshot(self, snapshot_id):
        body = self._get('/snapshots/%s' % snapshot_id)
        return _snapshot(body['snapshot']) if body else None
