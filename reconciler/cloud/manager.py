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

"""One cloud pass: the only module that knows every stage of the scope.

Cinder's cloud -> Nova's servers -> Keystone's projects -> plausibility ->
compare -> suspect cap -> re-check (point look-ups; confirmed findings on
their turn, and those the listings lack) -> record -> announce, into the
same history as backend and host passes with ``cloud`` as the scope.
Cinder is listed before Nova: Nova makes a block device mapping before it
asks Cinder for the attachment and deletes it after the attachment is
gone, so an attachment Cinder listed had its mapping when Nova is listed
afterwards. A pass completes or fails as a whole; a failed pass changes
nothing.
"""

import collections
import contextlib
import time

from oslo_log import log as logging

from reconciler.cloud import cinder as cloud_cinder
from reconciler.cloud import compare
from reconciler.cloud import confirm
from reconciler.cloud import scope
from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler import history as history_mod
from reconciler.host import scope as host_scope
from reconciler.inventory import keystone as keystone_inventory
from reconciler.inventory import nova as nova_inventory
from reconciler import manager
from reconciler import model
from reconciler import ownership

LOG = logging.getLogger(__name__)

K = model.FindingKind
NOVA_CHECKS = frozenset((K.STALE_ATTACHMENT, K.DANGLING_BDM))
# Listings shorter than this are not judged for shrinking.
MIN_SHRINK_BASE = 10
# Attachments watched in a transitional status, remembered at most.
MAX_WATCHED = 10000


def check_plausible(previous, cinder, nova, keystone, max_shrink_percent):
    """Refuse listings that cannot be true; returns their sizes."""
    sizes = {'cinder_volumes': len(cinder.volumes),
             'cinder_attachments': len(cinder.attachments)}
    if nova is not None:
        sizes['nova_servers'] = len(nova.servers)
    if keystone is not None:
        sizes['keystone_projects'] = len(keystone.projects)
    for name, size in sizes.items():
        before = (previous.inventory.get(name) or 0) if previous else 0
        if (before >= MIN_SHRINK_BASE
                and size * 100 < before * (100 - max_shrink_percent)):
            raise exception.ImplausibleInventory(
                '%s shrank from %d to %d since run %d (more than %d%%); '
                'check the %s credentials and region'
                % (name, before, size, previous.id, max_shrink_percent,
                   '[%s]' % name.split('_')[0]))
    instances = sum(1 for a in cinder.attachments if a.instance_id
                    and a.status in compare.LIVE_ATTACHMENT)
    if nova is not None and not nova.servers and instances:
        raise exception.ImplausibleInventory(
            'Nova lists no server while Cinder shows %d attachments of '
            'instances; check the [nova] credentials (the admin role) and '
            'region' % instances)
    if keystone is not None:
        owners = {v.project_id for v in cinder.volumes if v.project_id}
        if owners and not keystone.projects:
            raise exception.ImplausibleInventory(
                'Keystone lists no project while Cinder shows volumes of %d; '
                'check the [keystone] credentials (the admin role)'
                % len(owners))
        if len(owners) > 1 and not owners & keystone.projects:
            raise exception.ImplausibleInventory(
                'Keystone lists none of the %d projects owning volumes: not '
                "this cloud's Keystone? check [keystone]" % len(owners))
    return sizes


# New suspects a pass may always add.
SUSPECT_CAP_FLOOR = 10


def check_suspect_cap(candidates, open_ids, cinder, max_percent):
    new = sum(1 for c in candidates if c.identity not in open_ids)
    size = (len(cinder.volumes) + len(cinder.snapshots) + len(cinder.backups)
            + len(cinder.attachments))
    if (max_percent < 100 and new > SUSPECT_CAP_FLOOR
            and new * 100 > size * max_percent):
        raise exception.ImplausibleInventory(
            'this pass would add %d suspects in a cloud of %d resources '
            '(more than [cloud] max_suspect_percent = %d%%): one listing '
            'cannot be trusted with that many; if they are real, raise '
            'max_suspect_percent for one pass' % (new, size, max_percent))


class CloudReconciler(object):
    """Runs passes of the cloud scope with the services it is given."""

    def __init__(self, conf, history, notifier,
                 cinder_factory=cloud_cinder.CloudCinderInventory,
                 nova_factory=nova_inventory.NovaInventory,
                 keystone_factory=keystone_inventory.KeystoneInventory):
        self.conf = conf
        self.group = conf.cloud
        self.history = history
        self.notifier = notifier
        self.cinder_factory = cinder_factory
        self.nova_factory = nova_factory
        self.keystone_factory = keystone_factory
        names = [n.strip() for n in conf.enabled_backends if n.strip()]
        if scope.NAME in names:
            raise exception.ConfigError(
                'a backend group may not be named %r while [cloud] is '
                'enabled: it names the cloud scope in the history'
                % scope.NAME)

    def run_pass(self, stop=None, dry_run=False):
        """One pass; ``stop`` is the scope's coordination Lease (or an
        Event): the runs its lock proves dead are closed first.
        """
        started = time.time()
        if not dry_run:
            ownership.close_abandoned(
                self.history, started, scope.NAME,
                getattr(stop, 'scope', ownership.NO_LOCK))
        run_id = None if dry_run else self.history.start_run(
            scope.NAME, self.conf.host, started)
        report = manager.PassReport(scope.NAME, scope.NAME, run_id,
                                    model.RunStatus.RUNNING)
        manager.guarded(report, lambda: self._run(report, stop),
                        'Cloud', self.history)
        return report

    def _open(self):
        """Recorded candidates of the confirmed findings; identities of
        the suspected ones.
        """
        confirmed = {}
        suspected = set()
        for f in self.history.findings(scope.NAME):
            if f.state == model.FindingState.CONFIRMED:
                c = f.candidate()
                confirmed[c.identity] = c
            elif f.state == model.FindingState.SUSPECTED:
                suspected.add((f.kind, f.resource_type, f.resource_id))
        return confirmed, suspected

    def _related(self, backends):
        """``related(volume)``: the confirmed findings of other scopes that
        hold a volume, for a stuck_deleting finding's details.
        ``backends``: Cinder ``host@backend`` -> backend group name.
        """
        exports = collections.defaultdict(list)
        devices = collections.defaultdict(list)
        for f in self.history.findings(state=model.FindingState.CONFIRMED):
            if (f.kind == K.ORPHAN_EXPORT
                    and f.backend in backends.values()):
                exports[f.backend, f.details.get('volume_uuid')].append(
                    '%d:%s' % (f.id, f.array_name or f.resource_id))
            elif (f.kind in model.HOST_KINDS
                  and host_scope.host_of(f.backend)):
                devices[f.cinder_id or f.details.get('volume_id')].append(
                    '%d:%s %s' % (f.id, f.backend,
                                  f.array_name or f.resource_id))

        def related(volume):
            backend = backends.get(compare.service_host(volume))
            keys = {volume.id, volume.key}
            return dict(
                exports=','.join(sorted(
                    e for k in keys for e in exports[backend, k])),
                host_findings=','.join(sorted(
                    d for k in keys for d in devices[k])))
        return related

    def _run(self, report, stop):
        checkpoint = manager.BackendReconciler._checkpoint
        group = self.group
        checks = {model.FindingKind(k) for k in group.checks}
        cinder_inv = self.cinder_factory(self.conf)
        cinder = cinder_inv.cloud_view()
        checkpoint(stop)
        nova_inv = nova = None
        if checks & NOVA_CHECKS:
            nova_inv = self.nova_factory(self.conf)
            nova = nova_inv.view()
            checkpoint(stop)
        keystone_inv = keystone = None
        if K.ORPHAN_PROJECT in checks:
            keystone_inv = self.keystone_factory(self.conf)
            keystone = keystone_inv.view()
            checkpoint(stop)
        previous = self.history.last_ok_run(scope.NAME)
        sizes = check_plausible(previous, cinder, nova, keystone,
                                group.max_shrink_percent)
        confirmed, suspected = self._open()
        local = {b.cinder_host: b for b in backend_conf.enabled(
            self.conf, warn=False)} if K.STUCK_DELETING in checks else {}
        names = {host: b.name for host, b in local.items()}
        now = time.time()
        watched = (previous.inventory.get('watched') or {}) if (
            previous) else {}
        comparison = compare.compare(
            cinder, nova, keystone, checks, dict(group.stuck_after),
            watched, now, names, self._related(names) if names else None)
        check_suspect_cap(comparison.candidates,
                          set(confirmed) | suspected, cinder,
                          group.max_suspect_percent)
        checkpoint(stop)
        kept, to_check = confirm.keep_confirmed(
            comparison.candidates, confirmed,
            self.history.ok_run_count(scope.NAME),
            group.confirmed_recheck_passes)
        listed = {c.identity for c in comparison.candidates}
        # Confirmed findings no look-up can re-check now (their check is
        # no longer made, their backend no longer enabled here) stay as
        # they are; the others the listings lack resolve only if a
        # look-up says so.
        paused, unlisted = [], []
        for identity, cand in confirmed.items():
            if identity in listed:
                continue
            if identity[0] not in checks or (
                    identity[0] == K.STUCK_DELETING
                    and dict(cand.details).get('backend')
                    not in names.values()):
                paused.append(cand)
            else:
                unlisted.append(cand)
        rechecking = time.monotonic()
        requests = cinder_inv.requests
        with contextlib.ExitStack() as drivers:
            opened = {}

            def driver(name):
                if name not in opened:
                    backend = [b for b in local.values() if b.name == name]
                    if not backend:
                        raise exception.ConfigError(
                            'backend %s is no longer enabled' % name)
                    opened[name] = drivers.enter_context(
                        backend[0].create_driver())
                return opened[name]
            look = confirm.Lookups(
                cinder_inv, nova_inv, keystone_inv, driver,
                nova.compute_hosts if nova else frozenset())
            candidates = kept + confirm.confirm(to_check, look)
            still = confirm.confirm(unlisted, look)
        candidates += still + paused
        recheck_seconds = time.monotonic() - rechecking
        checkpoint(stop)
        report.inventory = dict(
            sizes, cinder_snapshots=len(cinder.snapshots),
            cinder_backups=len(cinder.backups),
            cinder_seconds=round(cinder.seconds, 3),
            cinder_requests=cinder.requests,
            nova_seconds=round(nova.seconds, 3) if nova else None,
            nova_requests=nova.requests if nova else None,
            keystone_seconds=round(keystone.seconds, 3) if keystone
            else None,
            suspects=len(comparison.candidates), rechecked=len(to_check),
            unlisted_kept=len(still),
            recheck_seconds=round(recheck_seconds, 3),
            recheck_requests=(cinder_inv.requests - requests
                              + (nova_inv.requests - nova.requests
                                 if nova_inv else 0)),
            watched=dict(sorted(comparison.watched.items())[:MAX_WATCHED]))
        policy = history_mod.LifecyclePolicy(
            sightings=group.sightings, grace_seconds=group.grace_period)
        manager.record_run(
            self.conf, self.history, report, 'Cloud', candidates, policy,
            [c.identity for c in kept + paused], dict(comparison.consistent),
            dict(comparison.skipped))
