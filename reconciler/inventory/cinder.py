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
import email.utils
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
from reconciler import utctime

LOG = logging.getLogger(__name__)

# 3.14 shows group_snapshot_id on snapshots; 3.45 is Rocky, old enough for
# every supported cloud. 3.61 (Wallaby) shows a volume's cluster_name, which
# a clustered backend's re-checks need.
MICROVERSION = '3.45'
CLUSTER_MICROVERSION = '3.61'
# 3.60 filters volume listings on created_at/updated_at (gte:<iso time>).
CHANGES_MICROVERSION = '3.60'
# Snapshots changed since the last pass are read from a first page this
# long, ten times longer while it holds no older row, up to page_size.
CHANGED_SNAPSHOTS_PAGE = 10
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


def _http_date(resp):
    """The epoch time of a response's Date header, or None."""
    try:
        return email.utils.parsedate_to_datetime(
            resp.headers['Date']).timestamp()
    except (AttributeError, KeyError, TypeError, ValueError, IndexError):
        return None


def clock_skew(date, sent, received):
    """Seconds cinder-api's clock (``date``, from its Date header) is ahead
    of ours (negative: behind), 0 when it may agree, None without a date.

    The answer was made while ours read between ``sent`` and ``received``;
    a Date is truncated to the second.
    """
    if date is None:
        return None
    if date > received:
        return date - received
    if date + 1 < sent:
        return date + 1 - sent
    return 0.0


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
        updated_at=item.get('updated_at'),
        source_volid=item.get('source_volid'))


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


def load_client(conf, auth=None):
    """The ``[cinder]`` client: session, auth and adapter options (``auth``:
    another plugin than the ``[cinder]`` one, with the same session).
    """
    try:
        auth = auth or ks_loading.load_auth_from_conf_options(conf, 'cinder')
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
        self.changes_margin = group.changes_margin
        # A request is tried 1 + connect_retries times, each within the
        # share of the listing's time left.
        self._attempts = 1 + (group.connect_retries or 0)
        self.client = load_client(conf)
        self.requests = 0
        # Windows of a listing count their requests from several threads.
        self._counting = threading.Lock()
        self._deadline = None
        # cinder-api's clock (its Date header, epoch s) at its first answer
        # since restart_clock(): when a listing began; and how far it was
        # from ours (clock_skew).
        self.first_answer_time = None
        self.first_answer_skew = None
        # path -> Cinder's count of the full listing under way, as it began.
        self.counted = {}
        # Set (an Event, or a coordination Lease): the pass stops before
        # its next request; a listing of many pages is not waited for.
        self.stop = None
        # id -> record (None: no live row) of every point look-up, so a
        # kept view can take in what they saw.
        self.looked_up = {}
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
        ``request``: more keystoneauth request arguments (``microversion``,
        which replaces the client's for this request).
        """
        if self.stop is not None and self.stop.is_set():
            raise exception.PassInterrupted(
                'interrupted: the service is stopping or the backend lock '
                'was lost')
        with self._counting:
            self.requests += 1
        path = url.split('?')[0]
        sent = time.time()
        try:
            resp, body = self.client.get(url, log=log, **request,
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
        if self.first_answer_time is None:
            self.first_answer_time = _http_date(resp)
            self.first_answer_skew = clock_skew(self.first_answer_time, sent,
                                                time.time())
        return body

    def restart_clock(self):
        """The next answer's Date is the start of a listing."""
        self.first_answer_time = self.first_answer_skew = None

    def _full_pages(self, path, key, convert, **scope):
        """A whole listing of ``scope``: in windows if configured."""
        return self._windows.pages(path, key, convert, scope)

    def _pages(self, path, key, convert, microversion=None, counted=False,
               **filters):
        """Every item of a paginated listing, or an exception.

        Items are converted page by page (no client objects are kept).
        Pages are sorted by id and chained by marker. Cinder answers 404
        when the marker was deleted in between; the listing then starts
        over (a partial listing must never be returned), a few times at most.
        ``counted``: Cinder's count comes with the first page, in
        ``self.counted[path]``.
        """
        for _attempt in range(LISTING_ATTEMPTS):
            try:
                request = dict(microversion=microversion) if (
                    microversion) else {}
                return [convert(item) for item in self._chain(
                    path, key, filters, counted=counted, **request)]
            except cinder_exc.NotFound:
                LOG.info('Cinder %s: page marker deleted meanwhile, listing '
                         'again', path)
        raise exception.CinderError(
            'Cinder GET %s: the listing kept changing under us (%d attempts)'
            % (path, LISTING_ATTEMPTS))

    def _chain(self, path, key, filters, sort='id:asc', limit=None,
               counted=False, **request):
        """Items page by page; a ``marker`` in ``filters`` starts after it.

        ``counted``: the first page comes with Cinder's count of the
        listing (``with_count``), kept in ``self.counted[path]``.
        """
        marker = None
        while True:
            params = dict(filters, all_tenants=1,
                          limit=limit or self.page_size, sort=sort)
            if marker:
                params['marker'] = marker
            elif counted:
                params['with_count'] = 'true'
            body = self._get('%s?%s' % (path, urllib.parse.urlencode(params)),
                             missing_ok=False, **request)
            if counted and not marker:
                self.counted[path] = body.get('count')
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

    def view(self, backend_host, cluster=None, cache=None):
        """Volumes and snapshots on ``backend_host`` (``host@backend``).

        With ``cluster`` (``cluster@backend`` of an active/active backend),
        those of the cluster instead: each carries the host of the member
        that created it. Cinder filters both by ``cluster_name`` (admins may
        use any filter), snapshots through their volume.
        With ``cache`` (a :class:`reconciler.inventory.incremental.
        CinderCache`), the cache decides whether to list in full or only
        what changed, and keeps the result for the next pass.
        """
        start = time.monotonic()
        requests = self.requests
        scope = dict(cluster_name=cluster) if cluster else dict(
            host=backend_host)
        try:
            with self._listing():
                volumes, snapshots = (self.listing(scope) if cache is None
                                      else cache.refresh(self, scope))
        except (KeyError, TypeError, ValueError) as e:
            raise exception.CinderError('Cinder listing malformed: %s'
                                        % _safe(e))
        # Filtered through the parent volume's host by Cinder; keep only
        # those whose parent we listed, should it ever widen.
        ids = {v.id for v in volumes}
        snapshots = tuple(s for s in snapshots if s.volume_id in ids)
        LOG.debug('Cinder view of %s: %d volumes, %d snapshots',
                  cluster or backend_host, len(volumes), len(snapshots))
        return model.CinderView(
            backend_host=backend_host, volumes=volumes, snapshots=snapshots,
            fetched_at=time.time(), seconds=time.monotonic() - start,
            requests=self.requests - requests, cluster=cluster)

    def listing(self, scope):
        """Every volume and snapshot in ``scope`` (host or cluster_name).

        Checked against Cinder's own counts, taken before and after (see
        :meth:`_adds_up`): a listing that does not add up is short (a page
        cut short by cinder-api or a proxy) or changed too much under us,
        and is listed again, a few times at most; then the pass fails, so a
        short listing never becomes the baseline of the plausibility
        checks.
        """
        for _attempt in range(self.listing_attempts):
            self.restart_clock()
            self.counted = {}
            local = time.time()
            volumes = tuple(self._full_pages('/volumes/detail', 'volumes',
                                             _volume, **scope))
            # Rows created before this by cinder-api's clock (its Date,
            # truncated to the second; its services' clocks may differ by
            # the margin) were there all through the listing.
            old = ((self.first_answer_time or local) - 1
                   - self.changes_margin)
            volumes_sort = self._windows.sort
            snapshots = self.snapshot_listing(scope)
            # Counted as the listings began, and now.
            before = tuple(self._counted(path) for path in (
                '/volumes/detail', '/snapshots/detail'))
            after = self.counts(scope)
            listed = (len(volumes), len(snapshots))
            if (self._adds_up('/volumes/detail', 'volumes', volumes,
                              volumes_sort, scope, before[0], after[0], old)
                    and self._adds_up('/snapshots/detail', 'snapshots',
                                      snapshots, self._windows.sort, scope,
                                      before[1], after[1], old)):
                return volumes, snapshots
            LOG.info('Cinder listed %d volumes and %d snapshots in %s, its '
                     'counts say %d and %d (%d and %d after): listing '
                     'again', *listed, ', '.join(scope.values()), *before,
                     *after)
        raise exception.CinderError(
            'Cinder listed %d volumes and %d snapshots in %s but counts %d '
            'and %d (%d and %d after the listing), %d times: pages cut '
            'short, or a listing that kept changing under us'
            % (*listed, ', '.join(scope.values()), *before, *after,
               self.listing_attempts))

    def _adds_up(self, path, key, rows, sort, scope, before, after, old):
        """Whether a full listing of ``rows`` (made in the order ``sort``)
        is whole, by Cinder's counts as it began and once it was made.

        Counts that did not move must equal its length. Counts that moved
        prove little (rows created or deleted meanwhile may or may not be
        listed, and may hide rows missing): then it is whole if no row
        created before ``old`` (epoch s, by cinder-api's clock) lies past
        its end in its order, where a page cut short leaves them (a window
        cut short fails the windows: see reconciler.inventory.windows). A
        row dropped from the middle of a page while rows come and go goes
        unseen: the re-checks of the suspects it makes find it.
        """
        if before == after:
            return len(rows) == before
        params = dict(scope, all_tenants=1, sort=sort, limit=self.page_size)
        if rows:
            params['marker'] = max(rows, key=(
                (lambda r: r.id) if sort == windows.ONE_CURSOR else
                (lambda r: (utctime.parse(r.created_at) if r.created_at
                            else 0.0, r.id)))).id
        try:
            body = self._get('%s?%s' % (path, urllib.parse.urlencode(params)),
                             missing_ok=False)
        except cinder_exc.NotFound:
            return False    # the last row went meanwhile: cannot tell
        past = body.get(key)
        if not isinstance(past, list):
            raise exception.CinderError(
                'Cinder GET %s returned no %s list' % (path, key))
        return not any(not isinstance(item.get('created_at'), str)
                       or utctime.parse(item['created_at']) < old
                       for item in past)

    def snapshot_listing(self, scope):
        """Every snapshot in ``scope``."""
        return tuple(self._full_pages('/snapshots/detail', 'snapshots',
                                      _snapshot, **scope))

    def max_microversion(self):
        """The highest microversion cinder-api serves, as (major, minor).

        (3, 0) when its version document does not say: an API that cannot
        tell is treated as one without the 3.60 filters. Asked at the
        endpoint, then (an endpoint ending in ``/v3/<project_id>`` may not
        answer) at the root of the service's ``/v3``.
        """
        best = self._max_microversion(self._get('/', missing_ok=True))
        endpoint = self.client.get_endpoint() or ''
        if best < (3, 60) and '/v3/' in endpoint:
            best = max(best, self._max_microversion(self._get(
                endpoint[:endpoint.rindex('/v3/')] + '/', missing_ok=True)))
        return best

    @staticmethod
    def _max_microversion(body):
        body = body or {}
        found = body.get('versions') or [body.get('version') or {}]
        best = (3, 0)
        for entry in found:
            if not isinstance(entry, dict):
                continue
            try:
                major, minor = (int(p) for p in
                                str(entry.get('version')).split('.'))
            except ValueError:
                continue
            if major == 3:
                best = max(best, (major, minor))
        return best

    def _changes_microversion(self):
        """3.60, or the client's own if higher (3.61 shows clusters)."""
        own = getattr(self.client, 'default_microversion', None) or '3.0'
        return max((CHANGES_MICROVERSION, own),
                   key=lambda v: api_versions.APIVersion(v))

    def volumes_changed(self, scope, since):
        """Volumes in ``scope`` created or updated at or after ``since``.

        ``since`` is in epoch seconds by cinder-api's clock. Two filtered
        listings: a row Cinder never updated has no updated_at.
        """
        version = self._changes_microversion()
        changed = {}
        for field in ('updated_at', 'created_at'):
            for volume in self._pages('/volumes/detail', 'volumes', _volume,
                                      microversion=version,
                                      **{field: 'gte:' + utctime.iso(
                                          since, microseconds=True)},
                                      **scope):
                changed[volume.id] = volume
        return tuple(changed.values())

    def snapshots_changed(self, scope, since):
        """Snapshots in ``scope`` updated at or after ``since``, or None.

        Cinder filters snapshot listings on exact values only (an
        ``updated_at=gte:`` filter silently matches nothing), so this reads
        a first page sorted by updated_at, newest first, up to the first
        older row: 10 rows, then 100... up to page_size while the page
        holds none (no marker: a marker on a changing sort key could skip
        rows). None when even that page holds no older row and more follow
        (more changed than a page, or rows without updated_at): list them
        in full.
        """
        limit = min(self.page_size, CHANGED_SNAPSHOTS_PAGE)
        while True:
            body = self._get('/snapshots/detail?%s' % urllib.parse.urlencode(
                dict(scope, all_tenants=1, limit=limit,
                     sort='updated_at:desc,id:desc')), missing_ok=False)
            items = body.get('snapshots')
            if not isinstance(items, list):
                raise exception.CinderError(
                    'Cinder GET /snapshots/detail returned no snapshots list')
            changed = []
            for item in items:
                if (item.get('updated_at')
                        and utctime.parse(item['updated_at']) < since):
                    return tuple(changed)
                changed.append(_snapshot(item))
            if not any(link.get('rel') == 'next'
                       for link in body.get('snapshots_links') or ()):
                return tuple(changed)
            if limit >= self.page_size:
                return None
            limit = min(self.page_size, limit * 10)

    def counts(self, scope):
        """(volumes, snapshots) Cinder counts in ``scope``."""
        return (self.count('/volumes', scope),
                self.count('/snapshots', scope))

    def _counted(self, path):
        """Cinder's count of the full listing of ``path`` just made."""
        count = self.counted.get(path)
        if not isinstance(count, int) or isinstance(count, bool):
            raise exception.CinderError(
                'Cinder GET %s?with_count=true returned no count' % path)
        return count

    def count(self, path, scope, **request):
        """Cinder's count of the listing ``path`` of ``scope``.

        ``/volumes/summary`` ignores every filter but all_tenants (it
        counts the whole cloud), so this is a listing of no item with
        ``with_count`` (3.45), which counts under the listing's filters.
        ``request``: as :meth:`_get` takes them.
        """
        body = self._get('%s?%s' % (path, urllib.parse.urlencode(dict(
            scope, all_tenants=1, limit=0, with_count='true'))),
            missing_ok=False, **request)
        self.counted[path] = body.get('count')
        return self._counted(path)

    # Point look-ups for re-checks: None means "no live row".

    def get_volume(self, volume_id):
        """A live volume, its attachments' connection details filled in."""
        body = self._get('/volumes/%s' % volume_id)
        if not body:
            self.looked_up[volume_id] = None
            return None
        volume = _volume(body['volume'])
        self.looked_up[volume_id] = volume
        return dataclasses.replace(volume, attachments=tuple(
            self._connection(a) for a in volume.attachments))

    def _connection(self, attachment):
        """``attachment`` with what its connection_info tells of the array
        host Cinder's driver mapped it to: the initiators (FC exposes its
        WWNs), the protocol (``driver_volume_type``) and the LUNs.

        connection_info can hold CHAP secrets: only these are taken from
        it, and it is neither logged (not even by keystoneauth's debug
        logging of bodies) nor kept.
        """
        if not attachment.attachment_id:
            return attachment
        body = self._get('/attachments/%s' % attachment.attachment_id,
                         log=False)
        info = ((body or {}).get('attachment') or {}).get('connection_info')
        if not isinstance(info, dict):
            return attachment
        # Cinder stores the driver's answer with its data flattened in.
        data = info.get('data', info)
        if not isinstance(data, dict):
            return attachment
        found = set(data.get('initiator_target_map') or ())
        if isinstance(data.get('initiator'), str):
            found.add(data['initiator'])
        luns = data.get('target_luns')
        luns = list(luns) if isinstance(luns, list) else []
        luns.append(data.get('target_lun'))
        protocol = info.get('driver_volume_type')
        return dataclasses.replace(
            attachment,
            initiators=frozenset(i.lower() for i in found
                                 if isinstance(i, str)),
            # Those array hosts are told by; any other is unknown.
            protocol=protocol if protocol in (
                model.ISCSI, model.FIBRE_CHANNEL) else None,
            luns=frozenset(n for n in luns
                           if isinstance(n, int) and not isinstance(n, bool)))

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
        snapshot = _snapshot(body['snapshot']) if body else None
        self.looked_up[snapshot_id] = snapshot
        return snapshot
