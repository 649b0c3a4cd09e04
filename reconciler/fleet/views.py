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

"""Cinder's view of every agent's host, listed once per controller cycle.

Cinder's API filters attachments neither by time nor, documented, by host,
and its volume listing shows an attachment's host only for attached ones:
a per-host listing would cost every agent a listing of the whole cloud.
So the controller lists once per ``[agents] view_interval`` for all hosts:

- volumes, cloud-wide, incrementally as a backend's pass does
  (reconciler.inventory.incremental: what changed by ``updated_at``, in
  full every ``full_listing_every`` cycles and whenever counts disagree);
- attachments in summary (id, status, volume: a few dozen bytes each), and
  in detail (connection_info) only those not seen before or whose status
  changed, since Cinder writes an attachment's connection_info once (a
  first listing, a periodic full one or too many changes list in detail).
  Cinder keeps a volume's ``updated_at`` when it detaches it and when it
  attaches a multiattach volume again: only the attachments listing shows
  those, never the changed volumes; an attached attachment whose host the
  kept volume does not show is looked up (``GET /volumes/<id>``).

connection_info is reduced at once to target names, LUNs and portals
(reconciler.host.cinder.connection_targets): no secret is kept.

A cycle's view may be older than the scan it judges, and os-brick creates
a device only after Cinder created its attachment: a device may be newer
than the view. So a scan that would change a host's findings is judged
against a fresh view of that host (:meth:`FleetView.fresh`): its own
attachments (Cinder's ``attached_host`` filter, admin only, O(its own
attachments)), attachments being attached anywhere, and the volumes
changed since the cycle's listing, all listed after the scan. Steady
hosts cost Cinder nothing.
"""

import dataclasses
import threading
import time

from oslo_log import log as logging

from reconciler import exception
from reconciler.host import cinder as host_cinder
from reconciler.host import view
from reconciler.inventory import cinder as cinder_inventory
from reconciler.inventory import incremental

LOG = logging.getLogger(__name__)

#: Attachment statuses without a host in Cinder's volume view.
ATTACHED = 'attached'
#: A cycle with more new or changed attachments than a page lists them all.
_DETAIL_ALL = 'too many changed attachments'


class FleetInventory(host_cinder.HostCinderInventory):
    """Cloud-wide listings for host views: volumes without snapshots."""

    def snapshot_listing(self, scope):
        # None listed, none counted: the listing's check adds up 0 to 0.
        self.counted['/snapshots/detail'] = 0
        return ()

    def snapshots_changed(self, scope, since):
        return ()

    def counts(self, scope):
        """(volumes, 0): snapshots are not listed for hosts."""
        body = self._get('/volumes?all_tenants=1&limit=0&with_count=true',
                         missing_ok=False)
        count = body.get('count')
        if not isinstance(count, int) or isinstance(count, bool):
            raise exception.CinderError(
                'Cinder GET /volumes?with_count=true returned no count')
        return count, 0

    def summaries(self):
        """Every attachment as (id, status, volume id)."""
        return [(i['id'], i.get('status'), i['volume_id'])
                for i in self._attachment_pages('/attachments')]

    def details(self, **filters):
        return self._attachment_pages(**filters)

    def detail(self, attachment_id):
        """One attachment in detail, None once deleted."""
        body = self._get('/attachments/%s' % attachment_id, log=False)
        return (body or {}).get('attachment')

    def volume(self, volume_id):
        """One volume as a listing shows it, None once deleted."""
        body = self._get('/volumes/%s' % volume_id)
        return cinder_inventory._volume(body['volume']) if body else None


@dataclasses.dataclass(frozen=True)
class Cycle:
    """One cycle's view of the cloud."""

    attachments: tuple     # view.Attachment of every host
    volumes: dict          # id -> (status, migration_status, host)
    projects: dict         # id -> project id
    began: float           # when its listing began (our clock)
    fetched_at: float
    seconds: float
    requests: int
    full: bool


class FleetView(object):
    """The controller's listing for every host, refreshed once per cycle.

    ``refresh`` runs in one thread (the :class:`Refresher`); the endpoint's
    threads read ``current`` and call ``fresh``.
    """

    def __init__(self, conf, inventory_factory=FleetInventory):
        self.conf = conf
        self.inventory_factory = inventory_factory
        group = conf.agents
        self.cache = incremental.CinderCache(group.full_listing_every,
                                             conf.cinder.changes_margin)
        self.raw = {}           # attachment id -> (status, Attachment)
        self.current = None     # the last complete Cycle
        self.ready = threading.Event()  # set by the first one
        self.error = None       # why the last refresh failed
        self._cycles = 0

    def refresh(self):
        """List a new cycle; on failure the previous one stays, and its
        age says how late it is.
        """
        started = time.time()
        clock = time.monotonic()
        inventory = self.inventory_factory(self.conf)
        self.cache.full_every = self.conf.agents.full_listing_every
        try:
            with inventory._listing():
                volumes, _snapshots = self.cache.refresh(inventory, {})
                full = self.cache.full
                records = {v.id: v for v in volumes}
                if full or not self.raw:
                    self._detail_all(inventory, records)
                else:
                    full = self._changes(inventory, records)
                attachments = self._attachments(inventory, records)
        except (exception.ReconcilerError, KeyError, TypeError,
                ValueError) as e:
            self.cache.invalidate()
            self.error = exception.describe(e)
            LOG.error("Agents' Cinder view not refreshed: %s", self.error)
            return None
        self._cycles += 1
        self.error = None
        self.current = Cycle(
            attachments=attachments,
            volumes={v.id: (v.status, v.migration_status, v.host)
                     for v in records.values()},
            projects={v.id: v.project_id for v in records.values()},
            began=started, fetched_at=time.time(),
            seconds=time.monotonic() - clock, requests=inventory.requests,
            full=full)
        self.ready.set()
        LOG.info("Agents' Cinder view: %d volumes, %d attachments, %d "
                 'requests (%s)', len(records), len(attachments),
                 inventory.requests, 'full' if full else 'changes')
        return self.current

    def _detail_all(self, inventory, records):
        self.raw = {}
        for item in inventory.details():
            self.raw[item['id']] = (item.get('status'), self._convert(
                item, records))

    def _changes(self, inventory, records):
        """Summaries, then the details of new and changed attachments;
        True when that became a full listing in detail.
        """
        summaries = inventory.summaries()
        wanted = [i for i, status, _v in summaries
                  if self.raw.get(i, (None,))[0] != status]
        if len(wanted) > inventory.page_size:
            LOG.info("Agents' Cinder view: %d changed attachments, listing "
                     'all in detail', len(wanted))
            self._detail_all(inventory, records)
            return True
        kept = {i for i, _s, _v in summaries}
        self.raw = {i: r for i, r in self.raw.items() if i in kept}
        for attachment_id in wanted:
            item = inventory.detail(attachment_id)
            if item is None:     # deleted since the summary
                self.raw.pop(attachment_id, None)
                continue
            self.raw[attachment_id] = (item.get('status'), self._convert(
                item, records))
        return False

    @staticmethod
    def _convert(item, records):
        return host_cinder.HostCinderInventory._attachment(item, records)

    def _attachments(self, inventory, records):
        """Every attachment with its host and its volume's state now."""
        hosts = {a.attachment_id: a.host_name for v in records.values()
                 for a in v.attachments}
        unknown = {a.volume_id for status, a in self.raw.values()
                   if status == ATTACHED and a.attachment_id not in hosts}
        for volume_id in sorted(unknown):
            # Attached again (multiattach) without a change of the volume.
            record = inventory.volume(volume_id)
            if record is None:
                records.pop(volume_id, None)
                continue
            records[volume_id] = self.cache.volumes[volume_id] = record
            hosts.update((a.attachment_id, a.host_name)
                         for a in record.attachments)
        found = []
        for status, a in self.raw.values():
            volume = records.get(a.volume_id)
            found.append(dataclasses.replace(
                a, host=hosts.get(a.attachment_id),
                volume_status=volume.status if volume else None,
                migration_status=volume.migration_status if volume else None,
                project_id=volume.project_id if volume else None))
        return tuple(found)

    def view(self, host, cycle=None):
        """The cycle's view of ``host`` (compare's input), or None before
        the first cycle.
        """
        cycle = cycle or self.current
        if cycle is None:
            return None
        return view.CinderHostView(
            host=host, attachments=cycle.attachments, volumes=cycle.volumes,
            fetched_at=cycle.fetched_at, seconds=0.0, requests=0)

    def fresh(self, host):
        """``host``'s view listed now: its own attachments, those being
        attached anywhere and the volumes changed since the cycle, over
        the cycle's view of the rest.
        """
        cycle = self.current
        clock = time.monotonic()
        inventory = self.inventory_factory(self.conf)
        with inventory._listing():
            volumes = {v.id: v for v in self._changed_volumes(inventory)}
            own = inventory.details(attached_host=host)
            attaching = inventory.details(attach_status='attaching')
        states = dict(cycle.volumes)
        states.update((v.id, (v.status, v.migration_status, v.host))
                      for v in volumes.values())
        mine = {item['id'] for item in own}
        fresh = {}
        for item in attaching + own:
            a = self._convert(item, volumes)
            volume = states.get(a.volume_id)
            fresh[a.attachment_id] = dataclasses.replace(
                a, host=host if a.attachment_id in mine else a.host,
                volume_status=volume[0] if volume else None,
                migration_status=volume[1] if volume else None,
                project_id=a.project_id or cycle.projects.get(a.volume_id))
        kept = tuple(
            dataclasses.replace(a, volume_status=states[a.volume_id][0],
                                migration_status=states[a.volume_id][1])
            if a.volume_id in states else a
            for a in cycle.attachments
            if a.attachment_id not in fresh and a.host != host)
        return view.CinderHostView(
            host=host, attachments=kept + tuple(fresh.values()),
            volumes=states, fetched_at=time.time(),
            seconds=time.monotonic() - clock, requests=inventory.requests)

    def _changed_volumes(self, inventory):
        since = self.cache.since
        if since is None or not self.cache.new_api:
            return ()   # cinder-api older than 3.60: the cycle's states
        return inventory.volumes_changed({}, since - self.cache.margin)

    def own(self, host):
        """What an agent may see: its host's attachments in the cycle's
        view (targets, LUNs, portals, states; never connection_info).
        """
        cycle = self.current
        if cycle is None:
            return None
        return [a for a in cycle.attachments if a.host == host]


class Refresher(object):
    """Refreshes a :class:`FleetView` every ``view_interval`` while agents
    report (a controller no agent reports to lists nothing), in a thread
    of its own; the first report wakes it.
    """

    def __init__(self, fleet, interval, stop):
        self.fleet = fleet
        self.interval = interval
        self._stop = stop
        self._wake = threading.Event()
        self._asked = False
        self._stopped = False
        self._lock = threading.Lock()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name='agents-view')
        self._thread.start()

    def asked(self):
        """A report arrived: keep refreshing; the first one starts now."""
        with self._lock:
            self._asked = True
        if self.fleet.current is None:
            self._wake.set()

    def _loop(self):
        while not self._stop.is_set() and not self._stopped:
            with self._lock:
                asked, self._asked = self._asked, False
            if asked:
                try:
                    self.fleet.refresh()
                except Exception:
                    LOG.exception("Agents' Cinder view not refreshed")
            self._wake.wait(self.interval() if asked else 1)
            self._wake.clear()

    def stop(self):
        self._stopped = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
