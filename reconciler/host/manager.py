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

"""One host pass: the only module that knows every stage on the host side.

scan (under os-brick's lock) -> Cinder's attachments -> plausibility ->
compare -> re-check (a second scan) -> record -> announce, into the same
history as backend passes with ``host:<connector host>`` as the scope. The
host is scanned before Cinder is listed: os-brick creates a device only
after Cinder created the attachment and removes it before the attachment is
deleted, so a device seen before the listing already had its attachment.
A pass either completes or fails as a whole; a failed pass changes nothing.
"""

import contextlib
import dataclasses
import time

from oslo_concurrency import lockutils
from oslo_log import log as logging

from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler import history as history_mod
from reconciler.host import cinder as host_cinder
from reconciler.host import compare
from reconciler.host import inventory as host_inventory
from reconciler.host import runner as runner_mod
from reconciler.host import scope
from reconciler.host import view
from reconciler import manager
from reconciler import model
from reconciler import notifier as notifier_mod

LOG = logging.getLogger(__name__)

# os-brick's connectors (iSCSI, FC, NVMe-oF) take this external lock around
# connect_volume and disconnect_volume: base.synchronized('connect_volume',
# external=True), lock files named os-brick-<name> in its lock_path.
BRICK_LOCK = 'connect_volume'
BRICK_LOCK_PREFIX = 'os-brick-'
# Ours, in the same directory: one host pass at a time on this host.
PASS_LOCK = 'host-pass'
PASS_LOCK_PREFIX = 'cinder-reconciler-'
# Listings shorter than this are not judged for shrinking.
MIN_SHRINK_BASE = 10


class HostBusy(exception.PassInterrupted):
    """An attach or detach held os-brick's lock: the scan was skipped."""


@dataclasses.dataclass(frozen=True)
class Look:
    """A scan's first comparison (see :meth:`HostReconciler.look`)."""

    host_view: object
    cinder_view: object
    remembered: list
    owned: object
    comparison: object
    confirmed: object
    first: list


def remembered_ownership(group, last_ok):
    """:func:`ownership` from the configuration and the host's newest ok
    run (None: no run yet): the LUNs and WWIDs it recorded. Passes and
    remediation's re-checks judge whose a device is by this same rule.
    """
    before = (last_ok.inventory if last_ok else None) or {}
    return ownership(group, list(before.get('luns') or ()),
                     before.get('wwids') or ())


def ownership(group, remembered, wwids=()):
    """Targets the configuration, LUNs and WWIDs earlier passes say are
    Cinder's (``wwids``: ``[wwid, volume id]`` pairs).
    """
    prefixes, exact, portals = [], set(), set()
    for entry in group.owned_targets:
        entry = entry.strip()
        if not entry:
            continue
        if entry.endswith(':'):
            prefixes.append(entry)
        elif entry.startswith(('iqn.', 'nqn.', 'eui.', 'naa.')):
            exact.add(entry)
        elif all(c in '0123456789abcdefABCDEF:x' for c in entry) and len(
                host_inventory.normalise_wwn(entry)) == 16:
            exact.add(host_inventory.normalise_wwn(entry))
        else:
            portals.add(entry)
    seen = set()
    for entry in remembered:
        try:
            protocol, target, lun = entry
            seen.add(view.TargetKey(str(protocol), str(target),
                                    None if lun is None else int(lun)))
        except (TypeError, ValueError):
            continue  # a run recorded by another version
    known = tuple((str(w), str(v)) for w, v in (
        e for e in wwids if isinstance(e, (list, tuple)) and len(e) == 2))
    return compare.Ownership(frozenset(exact), tuple(prefixes),
                             frozenset(portals), frozenset(seen), known)


def service_hosts(conf):
    """The names Cinder's volume hosts (``<name>@<backend>#<pool>``) give
    the cinder-volume services of this host.

    The connector host (on a cinder-volume host, its ``[DEFAULT] host``);
    with backends enabled, ``[DEFAULT] host`` and each one's
    ``backend_host`` too. A volume of one of them in a transitional status
    may be attached here by cinder-volume itself (an image download or
    upload, a migration) with no attachment record: Cinder's view of the
    volume says where its operation runs, whatever this process
    reconciles.
    """
    backends = [n.strip() for n in conf.enabled_backends if n.strip()]
    names = {conf.host_scan.connector_host}
    if backends:
        names.add(conf.host)
    names.update(backend_conf.backend_host(conf, n) for n in backends)
    return frozenset(n for n in names if n)


class HostScanner(object):
    """Scans this host under os-brick's lock: all an agent runs here.

    It reads ``[host_scan]`` only: no backend group, no history, no Cinder.
    """

    def __init__(self, conf, runner=None):
        self.conf = conf
        self.group = conf.host_scan
        self.host = self.group.connector_host
        self.runner = runner or runner_mod.RootHelperRunner(
            self.group.root_helper, self.group.command_timeout)

    def scanner(self):
        return host_inventory.HostInventory(
            root=self.group.root_prefix, runner=self.runner,
            protocols=self.group.protocols, multipath=self.group.multipath)

    @contextlib.contextmanager
    def _lock(self, name, prefix, what):
        if not self.group.lock_path:
            raise exception.ConfigError(
                '[host_scan] lock_path is not set: set it to os-brick\'s '
                'lock_path on this host, so scans never race attaches')
        lock = lockutils.external_lock(name, prefix, self.group.lock_path)
        if not lock.acquire(blocking=True, timeout=self.group.lock_timeout):
            raise HostBusy('%s held the lock %s%s for more than %ds; scan '
                           'skipped' % (what, prefix, name,
                                        self.group.lock_timeout))
        try:
            yield
        finally:
            lock.release()

    def scan(self):
        """One scan under os-brick's connect/disconnect lock."""
        with self._lock(BRICK_LOCK, BRICK_LOCK_PREFIX,
                        'an attach or detach (os-brick)'):
            return self.scanner().scan()


class HostReconciler(HostScanner):
    """Runs passes over this host with the services it is given."""

    def __init__(self, conf, history, notifier,
                 inventory_factory=host_cinder.HostCinderInventory,
                 runner=None, host=None, protocols=None):
        """``host``: another host than this one (its agent scans it);
        ``protocols``: the transports its scans cover, if not ours.
        """
        super().__init__(conf, runner)
        self.host = host or self.host
        self.protocols = protocols or self.group.protocols
        self.scope = scope.name(self.host)
        self.history = history
        self.notifier = notifier
        self.inventory_factory = inventory_factory
        names = [n.strip() for n in conf.enabled_backends if n.strip()]
        if any(scope.host_of(n) is not None for n in names):
            raise exception.ConfigError(
                'a backend name may not start with %r: it names host scopes '
                'in the history' % scope.PREFIX)
        # Another host's cinder-volume services (if any) are named after
        # it: its agent reads no backend group.
        self.local_hosts = (service_hosts(conf) if host is None
                            else frozenset((self.host,)))

    def run_pass(self, stop=None):
        started = time.time()
        run_id = self.history.start_run(self.scope, self.conf.host, started)
        report = manager.PassReport(self.scope, self.host, run_id,
                                    model.RunStatus.RUNNING)
        try:
            # A busy host (HostBusy) or a restart is not announced.
            manager.guarded(report, lambda: self._locked_run(report, stop),
                            'Host %s' % self.host, self.history)
        finally:
            self.notifier.flush(self.history)
        return report

    def _locked_run(self, report, stop):
        with self._lock(PASS_LOCK, PASS_LOCK_PREFIX, 'another host pass'):
            self._run(report, stop)

    def _compare(self, host_view, cinder_view, owned):
        return compare.compare(host_view, cinder_view, owned,
                               protocols=self.protocols,
                               local_hosts=self.local_hosts)

    def _run(self, report, stop):
        checkpoint = manager.BackendReconciler._checkpoint
        inventory = self.inventory_factory(self.conf)
        scan_start = time.monotonic()
        host_view = self.scan()
        scan_seconds = time.monotonic() - scan_start
        checkpoint(stop)
        cinder_view = inventory.host_view(self.host)
        checkpoint(stop)

        def rescan():
            checkpoint(stop)
            return self.scan()

        self.judge(report, self.look(host_view, cinder_view), rescan,
                   scan_seconds, stop)

    def look(self, host_view, cinder_view):
        """The first comparison of a scan, and what the re-check needs.

        ``first`` are the candidates that a second scan must show again
        (and confirmed findings held now): none, and no re-check scan is
        taken.
        """
        previous = self.history.last_ok_run(self.scope)
        self._check_plausible(previous, cinder_view)
        before = previous.inventory if previous else {}
        remembered = list(before.get('luns') or ())
        owned = remembered_ownership(self.group, previous)
        comparison = self._compare(host_view, cinder_view, owned)
        confirmed = self.history.confirmed(self.scope)
        # Held (not judged now, e.g. an attach in progress on the target):
        # a confirmed finding stays as it is rather than resolve.
        first = comparison.candidates + [
            c for c in comparison.held if c.identity in confirmed]
        return Look(host_view, cinder_view, remembered, owned, comparison,
                    confirmed, first)

    def record(self, scans, cinder_view, scan_seconds=0.0, extra=None,
               stop=None, look=None):
        """A pass over scans taken elsewhere (by this host's agent).

        ``scans``: the first scan and, when :meth:`look` found anything
        to re-check, the re-check's scan, taken after ``cinder_view`` was
        listed; ``extra``: more to keep in the run's inventory; ``look``:
        the first scan's, if the caller made it (under the same lock).
        """
        run_id = self.history.start_run(self.scope, self.conf.host,
                                        time.time())
        report = manager.PassReport(self.scope, self.host, run_id,
                                    model.RunStatus.RUNNING)
        rest = list(scans[1:])

        def rescan():
            if not rest:
                raise exception.ReconcilerError('the re-check scan is '
                                                'missing')
            return rest.pop(0)

        try:
            manager.guarded(report, lambda: self.judge(
                report, look or self.look(scans[0], cinder_view), rescan,
                scan_seconds, stop, extra), 'Host %s' % self.host,
                self.history)
        finally:
            self.notifier.flush(self.history)
        return report

    def judge(self, report, look, rescan, scan_seconds, stop, extra=None):
        """Re-check (``rescan()``: the second scan), record and announce.
        """
        checkpoint = manager.BackendReconciler._checkpoint
        comparison, confirmed, first = (look.comparison, look.confirmed,
                                        look.first)
        host_view, cinder_view = look.host_view, look.cinder_view
        remembered, owned = look.remembered, look.owned
        candidates, kept, rechecked = [], [], 0
        if first:
            # The re-check: what a second scan does not show again (a path
            # back, a device gone, an attach finished) does not count.
            checkpoint(stop)
            second = self._compare(rescan(), cinder_view, owned)
            judged = {c.identity for c in second.candidates}
            seen = judged | {c.identity for c in second.held}
            rechecked = len(first)
            for c in first:
                if c.identity in judged and c in comparison.candidates:
                    candidates.append(c)
                elif c.identity in seen and c.identity in confirmed:
                    kept.append(c)
        checkpoint(stop)
        luns = [[k.protocol, k.target, k.lun]
                for k in sorted(comparison.targets)]
        luns += [e for e in remembered if e not in luns]
        learned = [[w, v] for w, v in sorted(comparison.wwids.items())]
        learned += [[w, v] for w, v in owned.wwids
                    if w not in comparison.wwids]
        report.inventory = dict(
            cinder_attachments=len(cinder_view.attachments),
            attachments_here=len(cinder_view.here()),
            cinder_volumes=len(cinder_view.volumes),
            cinder_seconds=round(cinder_view.seconds, 3),
            cinder_requests=cinder_view.requests,
            host_disks=len(host_view.disks), host_maps=len(host_view.maps),
            host_sessions=len(host_view.sessions),
            host_nvme_subsystems=len(host_view.nvme),
            scan_seconds=round(scan_seconds, 3),
            suspects=len(comparison.candidates), rechecked=rechecked,
            held=len(comparison.held),
            luns=luns[:self.group.remembered_luns],
            wwids=learned[:self.group.remembered_luns], **(extra or {}))
        policy = history_mod.LifecyclePolicy(
            sightings=self.group.sightings,
            grace_seconds=self.group.grace_period)
        kinds = set(self.conf.reconciler.notify_kinds)
        report.transitions = self.history.complete_run(
            report.run_id, time.time(), candidates + kept, policy,
            report.inventory,
            announce=lambda ts: notifier_mod.finding_events(ts, kinds),
            unchecked=[c.identity for c in kept], monotonic=time.monotonic())
        report.candidates = candidates + kept
        report.consistent = dict(comparison.consistent)
        report.skipped = dict(comparison.skipped)
        report.status = model.RunStatus.OK
        LOG.info('Host %s run %d ok: %d findings, %d transitions', self.host,
                 report.run_id, len(candidates), len(report.transitions))

    def _check_plausible(self, previous, cinder_view):
        if previous is None:
            return
        before = previous.inventory.get('cinder_attachments') or 0
        size = len(cinder_view.attachments)
        limit = self.group.max_shrink_percent
        # A small cloud's listing rightly halves when one volume detaches.
        if before >= MIN_SHRINK_BASE and size * 100 < before * (100 - limit):
            raise exception.ImplausibleInventory(
                'Cinder attachments shrank from %d to %d since run %d (more '
                'than %d%%)' % (before, size, previous.id, limit))
