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

"""``cinder-reconciler-manage``: database, one-shot checks and reports.

    cinder-reconciler-manage db sync|version|purge --age-in-days N
    cinder-reconciler-manage check [--backend NAME | --host | --cloud]
                                   [--dry-run] [--format table|json|csv]
    cinder-reconciler-manage findings list [--state S] [--backend B]
                                           [--host [H] | --cloud] [--kind K]
                                           [--sort KEY[:DIR],...]
                                           [--limit N] [--marker ID] [L]
    cinder-reconciler-manage findings show ID [S]
    cinder-reconciler-manage runs list [--backend B] [--status S]
                                       [--limit N] [--marker ID] [L]
    cinder-reconciler-manage host-map (/dev/sdX | dm-N | WWID | VOLUME_UUID)
                                      [L]
    cinder-reconciler-manage name-map BACKEND (VALUE | --all) [L]
    cinder-reconciler-manage listen [--pool NAME] [--exit-after N]
    cinder-reconciler-manage remediate [--backend B | --host [NAME]
                                        | --cloud]
                                       [--kind K]
                                       [--finding ID] [--apply] [--quarantine]
                                       [--delete-data] [--limit N]
                                       [--format table|json]
    cinder-reconciler-manage actions list [--backend B] [--finding ID]
                                          [--limit N] [--marker ID] [L]
    cinder-reconciler-manage agent-key HOST
    cinder-reconciler-manage findings ignore ID --reason TEXT [--until TIME]
    cinder-reconciler-manage findings unignore ID

L, a listing's output options (reconciler.cmd.output, cliff's formatters):
-f/--format table|csv|json|yaml|value, -c/--column FIELD (repeat),
--sort-column FIELD (repeat), --sort-ascending|--sort-descending. S, a
record's: -f/--format table|csv|json|yaml|value|shell, -c/--column FIELD.
"""

import argparse
import getpass
import json
import socket
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging

from reconciler.cloud import scope as cloud_scope
from reconciler.cmd import output
from reconciler.cmd import report
from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler.conf import validation
from reconciler import coordination
from reconciler import exception
from reconciler import history
from reconciler.history import api as history_api
from reconciler.history import views
from reconciler.host import scope
from reconciler.inventory import cinder as inventory
from reconciler import manager
from reconciler import model
from reconciler import name_map
from reconciler import notifier as notifier_mod
from reconciler.remediation import remediator
from reconciler.rpc import api as rpc_api
from reconciler import utctime


def do_check(conf):
    args = conf.category
    if args.host_scope and args.dry_run:
        raise exception.ConfigError('--dry-run covers backend and cloud '
                                    'passes only, not --host')
    # A dry run leaves the host unit out: its pass has no read-only form.
    run_host = args.host_scope or (
        conf.host_scan.enabled and not args.backend and not args.dry_run
        and not args.cloud_scope)
    run_cloud = args.cloud_scope or (
        conf.cloud.enabled and not args.backend and not args.host_scope)
    if args.cloud_scope:
        validation.check_static(conf)  # [cloud], [nova], [keystone]...
    errors = []
    if args.host_scope or args.cloud_scope:
        backends = []
    elif args.backend:
        backends = [_backend(conf, args.backend)]
    else:
        # A backend with an invalid option is left out, logged as an
        # error; the others are checked.
        backends, errors = validation.checked_backends(conf)
    store = history.History.from_conf(conf)
    store.check_current()
    notifier = notifier_mod.Notifier(conf)
    # Not a member: a check runs whatever the ring says, but never
    # alongside a daemon's pass of the same backend.
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        reports = [_check_one(conf, b, store, notifier, coordinator)
                   for b in backends]
        if run_host:
            from reconciler.host import manager as host_manager
            reports.append(host_manager.HostReconciler(
                conf, store, notifier).run_pass())
        if run_cloud:
            reports.append(_check_cloud(conf, store, notifier, coordinator))
    finally:
        coordinator.stop()
        try:
            _flush(conf, store, notifier)
        finally:
            notifier.close()
    fmt = args.format
    if fmt == 'json':
        output.emit(json.dumps([report.pass_dict(r) for r in reports],
                               indent=2))
    elif fmt == 'csv':
        output.emit(report.csv_text([row for r in reports
                                     for row in report.pass_rows(r)]))
    else:
        for r in reports:
            output.emit(report.any_pass_text(r))
    return 0 if not errors and all(
        r.status == model.RunStatus.OK for r in reports) else 1


def _check_cloud(conf, store, notifier, coordinator):
    """The cloud scope's pass, under its coordination lock."""
    from reconciler.cloud import manager as cloud_manager
    with coordinator.exclusive(cloud_scope.NAME, blocking=True) as lease:
        if not lease:
            raise exception.ReconcilerError(
                'the cloud scope: could not take its coordination lock')
        return cloud_manager.CloudReconciler(conf, store, notifier).run_pass(
            stop=lease, dry_run=conf.category.dry_run)


def _check_one(conf, backend, store, notifier, coordinator):
    with coordinator.exclusive(backend.name, blocking=True) as lease:
        if not lease:
            raise exception.ReconcilerError(
                'backend %s: could not take its coordination lock'
                % backend.name)
        return manager.BackendReconciler(conf, backend, store,
                                         notifier).run_pass(
            stop=lease, dry_run=conf.category.dry_run)


def _flush(conf, store, notifier):
    """Send the passes' events, for a bounded time; the daemon (or the next
    check) sends what is left.
    """
    notifier.flush(store, timeout=conf.reconciler.check_flush_timeout)
    left = len(store.pending_notifications())
    if left:
        print('%d notification(s) not sent yet: they stay in the outbox and '
              'are sent by the daemon or the next check' % left,
              file=sys.stderr)


def _sort(text):
    """``--sort key[:asc|desc],...`` as the history's sort pairs."""
    pairs = []
    for item in (text or '').split(','):
        key, _, direction = item.strip().partition(':')
        if key:
            pairs.append((key, direction or 'asc'))
    for key, direction in pairs:
        if (key not in history_api.FINDING_SORT_KEYS
                or direction not in ('asc', 'desc')):
            raise exception.ConfigError(
                '--sort takes KEY[:asc|desc],... with keys among %s, not %s'
                % (', '.join(history_api.FINDING_SORT_KEYS),
                   '%s:%s' % (key, direction)))
    return pairs


def _limit(value):
    if value is not None and value < 1:
        raise exception.ConfigError('--limit must be at least 1')
    return value


def do_findings_list(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    backend = args.backend
    if args.host_scope is not None:
        backend = scope.name(args.host_scope
                             or conf.host_scan.connector_host)
    elif args.cloud_scope:
        backend = cloud_scope.NAME
    # Paged in SQL (keyset, after the marker's own sort values), as the
    # REST API pages: the default order is the API's, oldest first.
    rows = store.findings(backend=backend, state=args.state,
                          kind=args.kind, sort=_sort(args.sort),
                          limit=_limit(args.limit), marker=args.marker)
    output.emit_list(args, [views.finding_dict(f) for f in rows],
                     views.FINDING_FIELDS, report.FINDING_COLUMNS)
    return 0


def do_findings_show(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    finding = store.finding(args.id)
    if finding is None:
        raise exception.ReconcilerError('no finding %d' % args.id)
    output.emit_one(args, views.finding_story(store, finding))
    return 0


def do_runs_list(conf):
    """Runs, newest first; hosts whose scans stopped coming are marked
    stale (on their newest run, and in a line after the table).
    """
    from reconciler.fleet import staleness
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    silent = {s.scope: s for s in staleness.silences(
        store.snapshot().last_run, time.time(), conf) if s.stale}
    newest = {}
    rows = []
    for r in store.runs(backend=args.backend, status=args.status,
                        limit=_limit(args.limit), marker=args.marker):
        rows.append(dict(views.run_dict(r), stale=(
            r.backend in silent
            and newest.setdefault(r.backend, r.id) == r.id)))
    output.emit_list(args, rows, views.RUN_FIELDS + ('stale',))
    if args.format == 'table' and silent:
        output.emit(report.stale_text(silent.values()))
    return 0


def do_agent_key(conf):
    """The report key of a host, for its agent's [host_scan] report_key."""
    from reconciler.rpc import signing
    if not conf.agents.auth_key:
        raise exception.ConfigError('[agents] auth_key is not set: agents '
                                    'are not authenticated')
    output.emit(signing.host_key(conf.agents.auth_key, conf.category.name))
    return 0


def _backend(conf, name):
    """One enabled backend, its options checked; says why when it is
    skipped (no driver for it, an invalid option).
    """
    if name not in [n.strip() for n in conf.enabled_backends]:
        raise exception.ConfigError('backend %s is not in enabled_backends'
                                    % name)
    validation.check_static(conf)
    backend = backend_conf.BackendConf(conf, name)  # UnsupportedBackend...
    validation.check_backend(backend)
    return backend


def do_name_map(conf):
    """Array names for a Cinder UUID, the UUID for an array name, or all.

    A single value needs no Cinder (an operator at the array's console):
    without ``[cinder]`` the name is computed from the id alone, and one
    line says what that cannot know.
    """
    args = conf.category
    backend = _backend(conf, args.backend)
    driver = backend.create_driver()
    offline = not conf.cinder.auth_type
    if args.all:
        if offline:
            raise exception.ConfigError(
                "name-map --all lists Cinder's volumes: it needs [cinder] "
                '(auth_type and its credentials)')
        with driver:
            rows = name_map.all_objects(
                driver, inventory.CinderInventory(conf).view(
                    backend.cinder_host, backend.cinder_cluster))
    elif args.value:
        rows = name_map.one_value(
            driver, args.value,
            None if offline else inventory.CinderInventory(conf))
    else:
        raise exception.ConfigError('name-map needs a VALUE or --all')
    output.emit_list(args, rows)
    if offline and any('note' in r for r in rows):   # a UUID was mapped
        if args.format == 'table':
            output.emit(name_map.OFFLINE_NOTE)
        else:   # out of the way of JSON and CSV
            print(name_map.OFFLINE_NOTE, file=sys.stderr)
    return 0


def do_host_map(conf):
    """This host's devices for a volume, or the volume of a device."""
    from reconciler.host import device_map
    from reconciler.host import manager as host_manager
    reconciler = host_manager.HostReconciler(conf, None, None)
    host_view = reconciler.scan()
    cinder_view = reconciler.inventory_factory(conf).host_view(
        reconciler.host)
    rows = device_map.rows(host_view, cinder_view)
    if conf.category.value != 'all':
        rows = device_map.lookup(rows, conf.category.value)
    output.emit_list(conf.category, rows)
    return 0 if rows else 2


class _EventPrinter(object):
    """A notification endpoint: one JSON line per reconciler event."""

    filter_rule = oslo_messaging.NotificationFilter(
        event_type=r'^reconciler\.')

    def __init__(self, exit_after):
        self.left = exit_after
        self.done = threading.Event()
        self._lock = threading.Lock()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self._lock:
            output.emit(json.dumps({'event_type': event_type,
                                    'publisher_id': publisher_id,
                                    'timestamp': metadata.get('timestamp'),
                                    'payload': payload}, sort_keys=True),
                        flush=True)
            if self.left is not None:
                self.left -= 1
                if self.left <= 0:
                    self.done.set()
        return oslo_messaging.NotificationResult.HANDLED


#: ``listen``'s listener pool unless ``--pool`` names another. Never none:
#: without a pool it would consume the shared ``notifications.info`` queue,
#: acking what its filter rejects, and take events from every other consumer.
LISTEN_POOL = 'cinder-reconciler-listen'


def do_listen(conf):
    """An example consumer of the daemon's notifications (its own copy)."""
    transport = oslo_messaging.get_notification_transport(conf)
    printer = _EventPrinter(conf.category.exit_after)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic) for topic in
                    conf.oslo_messaging_notifications.topics],
        [printer], executor='threading',
        pool=conf.category.pool or LISTEN_POOL)
    listener.start()
    try:
        while not printer.done.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    return 0


def _actor():
    return '%s@%s (cinder-reconciler-manage)' % (getpass.getuser(),
                                                 socket.gethostname())


def do_remediate(conf):
    """Plan (by default) or apply remediation of confirmed findings."""
    args = conf.category
    if args.delete_data and not args.finding:
        raise exception.ConfigError(
            '--delete-data needs the findings to delete named one by one '
            'with --finding')
    if args.host_scope is not None:
        return _remediate_host(conf, args)
    if args.cloud_scope:
        return _remediate_cloud(conf, args)
    backends = validation.enabled_backends(conf)
    if args.backend:
        backends = [_backend(conf, args.backend)]
    store = history.History.from_conf(conf)
    store.check_current()
    ids = set(args.finding or ())
    unknown = []
    if ids and not args.backend:
        backends, unknown = _holding(store, backends, ids)
    notifier = notifier_mod.Notifier(conf)
    coordinator = coordination.Coordinator(conf, member=False)
    outcomes = []
    try:
        for backend in backends:
            outcomes.append(remediator.remediate_backend(
                conf, backend, store, notifier, coordinator, _actor(),
                apply=args.apply, kinds=set(args.kind or ()),
                finding_ids=ids, quarantine=args.quarantine,
                delete_ids=ids if args.delete_data else frozenset(),
                limit=args.limit))
    finally:
        coordinator.stop()
        notifier.close()
    for line in unknown:
        print(line, file=sys.stderr)
    return max(_outcomes(args.format, outcomes), 1 if unknown else 0)


def _holding(store, backends, ids):
    """The enabled backends holding the findings ``ids``, and one line
    for each finding none of them holds.
    """
    names = {b.name for b in backends}
    holders, unknown = set(), []
    for finding_id in sorted(ids):
        finding = store.finding(finding_id)
        if finding is not None and finding.backend in names:
            holders.add(finding.backend)
        elif finding is not None and scope.host_of(finding.backend):
            unknown.append('Finding %d is a finding of %s: remediate it '
                           'with --host there' % (finding_id,
                                                  finding.backend))
        elif finding is not None and finding.backend == cloud_scope.NAME:
            unknown.append('Finding %d is a finding of the cloud scope: '
                           'remediate it with --cloud' % finding_id)
        else:
            unknown.append('No enabled backend has finding %d'
                           % finding_id)
    return [b for b in backends if b.name in holders], unknown


#: Exit status of ``remediate`` when it applied steps and every one of
#: them was skipped: nothing changed, though nothing failed either.
ALL_SKIPPED = 2


def _outcomes(fmt, outcomes):
    if fmt == 'json':
        output.emit(json.dumps([views.outcome_dict(o) for o in outcomes],
                               indent=2))
    else:
        for o in outcomes:
            output.emit(report.outcome_text(o))
    failed = any(o.error or any(r[0] == remediator.FAILED
                                for _, r in o.results) for o in outcomes)
    if failed:
        return 1
    applied = [o for o in outcomes if o.applied and o.results]
    if applied and all(o.all_skipped for o in applied):
        return ALL_SKIPPED
    return 0


def _remediate_host(conf, args):
    """``remediate --host [NAME]``: a host's findings, os-brick
    disconnects: here (this host, the all-in-one mode), or through the
    agent of NAME.
    """
    from reconciler.remediation import host_remediator
    if args.backend or args.quarantine or args.delete_data:
        raise exception.ConfigError('--host takes neither --backend, '
                                    '--quarantine nor --delete-data')
    name = args.host_scope
    here = not name or (conf.host_scan.enabled
                        and name == conf.host_scan.connector_host)
    store = history.History.from_conf(conf)
    store.check_current()
    notifier = notifier_mod.Notifier(conf)
    options = dict(apply=args.apply, kinds=set(args.kind or ()),
                   finding_ids=set(args.finding or ()), limit=args.limit)
    try:
        if here:
            outcome = host_remediator.HostRemediator(
                conf, store, notifier, _actor()).run(**options)
        else:
            outcome = _remediate_through_agent(conf, name, store, notifier,
                                               options)
    finally:
        notifier.close()
    return _outcomes(args.format, [outcome])


def _remediate_through_agent(conf, name, store, notifier, options):
    from reconciler.fleet import remediation
    if not rpc_api.configured(conf):
        raise exception.ConfigError(
            '--host %s acts through the agent of %s: set [DEFAULT] '
            'transport_url' % (name, name))
    transport = rpc_api.get_transport(conf)
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        return remediation.AgentRemediator(
            conf, store, notifier, _actor(), name, transport,
            coordinator).run(**options)
    finally:
        coordinator.stop()
        transport.cleanup()


def _remediate_cloud(conf, args):
    """``remediate --cloud``: under the scope's coordination lock (and a
    backend's for the exports a runbook removes).
    """
    from reconciler.remediation import cloud_remediator
    if args.backend or args.quarantine or args.delete_data:
        raise exception.ConfigError('--cloud takes neither --backend, '
                                    '--quarantine nor --delete-data')
    validation.check_static(conf)
    store = history.History.from_conf(conf)
    store.check_current()
    notifier = notifier_mod.Notifier(conf)
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        with coordinator.exclusive(cloud_scope.NAME,
                                   blocking=True) as lease:
            if not lease:
                raise exception.ReconcilerError(
                    'the cloud scope: could not take its coordination lock')
            outcome = cloud_remediator.CloudRemediator(
                conf, store, notifier, _actor(), coordinator).run(
                    apply=args.apply, kinds=set(args.kind or ()),
                    finding_ids=set(args.finding or ()), limit=args.limit,
                    lock=lease.scope)
    finally:
        coordinator.stop()
        notifier.close()
    return _outcomes(args.format, [outcome])


def do_actions_list(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    output.emit_list(args, [views.action_dict(a) for a in store.actions(
        backend=args.backend, finding_id=args.finding,
        limit=_limit(args.limit), marker=args.marker)], views.ACTION_FIELDS)
    return 0


def _until(text):
    try:
        when = utctime.parse(text)
    except ValueError:
        raise exception.ConfigError('--until %r is not an ISO 8601 time'
                                    % text)
    if when <= time.time():
        raise exception.ConfigError(
            '--until %s is in the past: the finding would not be ignored; '
            'give a future time, or no --until to ignore it until '
            '"findings unignore"' % text)
    return when


def do_findings_ignore(conf):
    args = conf.category
    store = history.History.from_conf(conf)
    store.check_current()
    store.ignore(args.id, args.reason, _actor(),
                 until=_until(args.until) if args.until else None)
    output.emit('Finding %d is ignored%s: %s' % (
        args.id, ' until %s' % args.until if args.until else '',
        args.reason))
    return 0


def do_findings_unignore(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    store.unignore(conf.category.id, _actor())
    output.emit('Finding %d is no longer ignored.' % conf.category.id)
    return 0


def do_db_sync(conf):
    history.History.from_conf(conf).sync()
    output.emit('Database is at the latest revision.')
    return 0


def do_db_version(conf):
    output.emit(history.History.from_conf(conf).version() or 'empty')
    return 0


def do_db_purge(conf):
    days = conf.category.age_in_days
    if days < 1:
        raise exception.ConfigError('--age-in-days must be at least 1')
    store = history.History.from_conf(conf)
    store.check_current()
    purged = store.purge(time.time() - days * 86400)
    output.emit('Purged %(runs)d runs and %(findings)d resolved findings '
                "(and %(events)d of Cinder's events)." % purged)
    return 0


def _add_format(parser):
    """A report's formats (``check``, ``remediate``): its text, or JSON
    (and for ``check`` CSV) of its records.
    """
    parser.add_argument('--format', choices=('table', 'json', 'csv'),
                        default='table')


def _add_paging(parser, default=None, what='item'):
    parser.add_argument('--limit', type=int, default=default, metavar='N',
                        help='At most N %ss (a page)%s.' % (
                            what, ' (default: %(default)s)' if default
                            else '; every one without it'))
    parser.add_argument('--marker', type=int, metavar='ID',
                        help='The page after this %s (the ID of the '
                             "previous page's last row)." % what)


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Manage the history database.')
    db_sub = db.add_subparsers(dest='action', required=True)
    db_sub.add_parser('sync', help='Create or upgrade the schema.'
                      ).set_defaults(func=do_db_sync)
    db_sub.add_parser('version', help='Print the schema revision.'
                      ).set_defaults(func=do_db_version)
    purge = db_sub.add_parser(
        'purge', help='Delete runs and resolved findings older than N days '
                      '(never open findings, nor what they still need).')
    purge.add_argument('--age-in-days', type=int, required=True,
                       metavar='N')
    purge.set_defaults(func=do_db_purge)

    check = subparsers.add_parser(
        'check', help='Run one pass now and print what it found.')
    only = check.add_mutually_exclusive_group()
    only.add_argument('--backend', help='Only this backend group.')
    # dest: conf.category.host would clash with [DEFAULT] host.
    only.add_argument('--host', action='store_true', dest='host_scope',
                      help="Only this host's devices against Cinder's "
                           'attachments ([host_scan]).')
    only.add_argument('--cloud', action='store_true', dest='cloud_scope',
                      help='Only the cloud scope: Cinder against Nova and '
                           'Keystone ([cloud]).')
    check.add_argument('--dry-run', action='store_true',
                       help='A read-only pass (backend or cloud): shows '
                            'what it would record, changes no finding and '
                            'sends nothing.')
    _add_format(check)
    check.set_defaults(func=do_check)

    findings = subparsers.add_parser('findings', help='Recorded findings.')
    findings_sub = findings.add_subparsers(dest='action', required=True)
    listing = findings_sub.add_parser('list', help='List findings.')
    listing.add_argument('--state',
                         choices=[s.value for s in model.FindingState])
    listing.add_argument('--backend')
    listing.add_argument('--host', nargs='?', const='', dest='host_scope',
                         help="A host's findings (default: this host's "
                              '[host_scan] connector_host).')
    listing.add_argument('--cloud', action='store_true', dest='cloud_scope',
                         help="The cloud scope's findings.")
    listing.add_argument('--kind',
                         choices=[k.value for k in model.FindingKind])
    listing.add_argument('--sort', metavar='KEY[:DIR],...',
                         help='The order the history lists them in '
                              '(before --limit and --marker): keys among '
                              '%s, each asc or desc; default id:asc '
                              '(id:desc: newest first).'
                              % ', '.join(history_api.FINDING_SORT_KEYS))
    _add_paging(listing, what='finding')
    output.add_list_options(listing)
    listing.set_defaults(func=do_findings_list)
    show = findings_sub.add_parser(
        'show', help='One finding: evidence, sightings and transitions.')
    show.add_argument('id', type=int)
    output.add_show_options(show)
    show.set_defaults(func=do_findings_show)

    ignore = findings_sub.add_parser(
        'ignore', help='Stop announcing and remediating a finding; it '
                       'still shows in reports, marked.')
    ignore.add_argument('id', type=int)
    ignore.add_argument('--reason', required=True)
    ignore.add_argument('--until', help='ISO 8601 time (UTC if no zone).')
    ignore.set_defaults(func=do_findings_ignore)
    unignore = findings_sub.add_parser('unignore',
                                       help='Undo "findings ignore".')
    unignore.add_argument('id', type=int)
    unignore.set_defaults(func=do_findings_unignore)

    remediate = subparsers.add_parser(
        'remediate', help='Plan (dry run, the default) or apply actions on '
                          'confirmed findings.')
    remediate.add_argument('--backend', help='Only this backend group.')
    remediate.add_argument('--host', nargs='?', const='', dest='host_scope',
                           metavar='NAME',
                           help="A host's findings: disconnects through "
                                "os-brick, by the agent of NAME over RPC, "
                                "or here without NAME (this host's "
                                '[host_scan], the all-in-one mode).')
    remediate.add_argument('--cloud', action='store_true', dest='cloud_scope',
                           help="The cloud scope's findings ([cloud]): "
                                "detaches, named resets, the runbook of "
                                'undeletable volumes.')
    remediate.add_argument('--kind', action='append',
                           choices=[k.value for k in model.FindingKind])
    remediate.add_argument('--finding', action='append', type=int,
                           metavar='ID', help='Only this finding (repeat).')
    remediate.add_argument('--apply', action='store_true',
                           help='Act; without it nothing changes.')
    remediate.add_argument('--quarantine', action='store_true',
                           help='Quarantine array-only objects on the array '
                                'instead of adopting them into Cinder.')
    remediate.add_argument('--delete-data', action='store_true',
                           help='Delete the array-only objects of the '
                                'findings named with --finding.')
    remediate.add_argument('--limit', type=int,
                           help='At most this many actions (and never more '
                                'than reconciler_remediation_max_actions); '
                                'a plan with more does nothing. 0: nothing '
                                'is done.')
    _add_format(remediate)
    remediate.set_defaults(func=do_remediate)

    actions = subparsers.add_parser('actions', help='Remediation audit.')
    actions_sub = actions.add_subparsers(dest='action', required=True)
    actions_list = actions_sub.add_parser('list', help='Newest first.')
    actions_list.add_argument('--backend')
    actions_list.add_argument('--finding', type=int)
    _add_paging(actions_list, 50, 'action')
    output.add_list_options(actions_list)
    actions_list.set_defaults(func=do_actions_list)

    agent_key = subparsers.add_parser(
        'agent-key', help="A host's report key, derived from [agents] "
                          "auth_key, for its agent's [host_scan] "
                          'report_key (a secret: copy it, do not log it).')
    agent_key.add_argument('name', metavar='HOST',
                           help="The host's [host_scan] connector_host.")
    agent_key.set_defaults(func=do_agent_key)

    runs = subparsers.add_parser('runs', help='Recorded passes.')
    runs_sub = runs.add_subparsers(dest='action', required=True)
    runs_list = runs_sub.add_parser('list', help='List runs, newest first.')
    runs_list.add_argument('--backend')
    runs_list.add_argument('--status',
                           choices=[s.value for s in model.RunStatus])
    _add_paging(runs_list, 20, 'run')
    output.add_list_options(runs_list)
    runs_list.set_defaults(func=do_runs_list)

    names = subparsers.add_parser(
        'name-map', help="Map Cinder UUIDs to the array's names and back.")
    names.add_argument('backend', help='A backend group name.')
    names.add_argument('value', nargs='?',
                       help='A Cinder volume/snapshot UUID or an array name.')
    names.add_argument('--all', action='store_true',
                       help="Every Cinder volume and snapshot of the backend "
                            "with its array name and whether it exists.")
    output.add_list_options(names)
    names.set_defaults(func=do_name_map)

    host_map = subparsers.add_parser(
        'host-map', help="Map this host's block devices to Cinder volumes, "
                         'attachments and instances, and back.')
    host_map.add_argument('value', help='/dev/sdX, dm-N, /dev/mapper/NAME, '
                                        'a WWID, a volume UUID, or "all".')
    output.add_list_options(host_map)
    host_map.set_defaults(func=do_host_map)

    listen = subparsers.add_parser(
        'listen', help="Print the daemon's notifications as JSON lines.")
    listen.add_argument('--pool', default=LISTEN_POOL,
                        help='Listener pool (queue) receiving a copy of '
                        'the notifications (default: %(default)s). The '
                        'shared notification queue is never consumed.')
    listen.add_argument('--exit-after', type=int, metavar='N',
                        help='Exit after N events.')
    listen.set_defaults(func=do_listen)


def build_parser(prog='cinder-reconciler-manage'):
    """The commands as a plain argparse parser, for the CLI reference
    (doc/source/cli): oslo.config adds its own options (``--config-file``,
    ``--config-dir``, logging) in front of them when the command runs.
    """
    parser = argparse.ArgumentParser(
        prog=prog, description='Database, one-shot checks and reports.')
    add_command_parsers(parser.add_subparsers(title='Commands',
                                              dest='category'))
    return parser


def register_cli_opts(conf):
    conf.register_cli_opt(cfg.SubCommandOpt(
        'category', title='Commands', handler=add_command_parsers))


def run(conf):
    """The parsed command; an error the operator can act on is one line
    on stderr and exit status 1.
    """
    try:
        with output.libraries_to_log():
            return conf.category.func(conf)
    except (exception.ReconcilerError,) + exception.DATABASE_ERRORS as e:
        print('Error: %s' % exception.describe(e), file=sys.stderr)
        return 1


def main(argv=None):
    conf = cfg.CONF
    register_cli_opts(conf)
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv,
                            stdout_is_output=True)
    return run(conf)
