"""``cinder-reconciler-manage``: database, one-shot checks and reports.

    cinder-reconciler-manage db sync|version
    cinder-reconciler-manage check [--backend NAME] [--format table|json]
    cinder-reconciler-manage findings list [--state S] [--backend B]
                                           [--kind K] [--format table|json]
    cinder-reconciler-manage name-map BACKEND (VALUE | --all)
                                      [--format table|json]
    cinder-reconciler-manage listen [--pool NAME] [--exit-after N]
"""

import json
import sys
import threading

from oslo_config import cfg
import oslo_messaging

from reconciler.cmd import report
from reconciler import conf as reconciler_conf
from reconciler.conf import validation
from reconciler import coordination
from reconciler import exception
from reconciler import history
from reconciler.inventory import cinder as inventory
from reconciler import manager
from reconciler import model
from reconciler import name_map
from reconciler import notifier as notifier_mod


def do_check(conf):
    backends = validation.enabled_backends(conf)
    if conf.category.backend:
        backends = [b for b in backends if b.name == conf.category.backend]
        if not backends:
            raise exception.ConfigError('backend %s is not in '
                                        'enabled_backends'
                                        % conf.category.backend)
    store = history.History.from_conf(conf)
    store.check_current()
    notifier = notifier_mod.Notifier(conf)
    # Not a member: a check runs whatever the ring says, but never
    # alongside a daemon's pass of the same backend.
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        reports = [_check_one(conf, b, store, notifier, coordinator)
                   for b in backends]
    finally:
        coordinator.stop()
        notifier.close()
    if conf.category.format == 'json':
        print(json.dumps([report.pass_dict(r) for r in reports], indent=2))
    else:
        for r in reports:
            print(report.pass_text(r))
    return 0 if all(r.status == model.RunStatus.OK for r in reports) else 1


def _check_one(conf, backend, store, notifier, coordinator):
    with coordinator.exclusive(backend.name, blocking=True) as lease:
        if not lease:
            raise exception.ReconcilerError(
                'backend %s: could not take its coordination lock'
                % backend.name)
        return manager.BackendReconciler(conf, backend, store,
                                         notifier).run_pass(stop=lease)


def do_findings_list(conf):
    store = history.History.from_conf(conf)
    store.check_current()
    args = conf.category
    rows = store.findings(backend=args.backend, state=args.state,
                          kind=args.kind)
    if args.format == 'json':
        print(json.dumps([report.finding_dict(f) for f in rows], indent=2))
    else:
        print(report.findings_table(rows))
    return 0


def _backend(conf, name):
    for b in validation.enabled_backends(conf):
        if b.name == name:
            return b
    raise exception.ConfigError('backend %s is not in enabled_backends'
                                % name)


def do_name_map(conf):
    """Array names for a Cinder UUID, the UUID for an array name, or all."""
    args = conf.category
    backend = _backend(conf, args.backend)
    driver = backend.create_driver()
    if args.all:
        with driver:
            rows = name_map.all_objects(
                driver, inventory.CinderInventory(conf).view(
                    backend.cinder_host))
    elif args.value:
        rows = name_map.one_value(driver, args.value)
    else:
        raise exception.ConfigError('name-map needs a VALUE or --all')
    if args.format == 'json':
        print(json.dumps(rows, indent=2))
    else:
        print(report.table(rows))
    return 0


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
            print(json.dumps({'event_type': event_type,
                              'publisher_id': publisher_id,
                              'timestamp': metadata.get('timestamp'),
                              'payload': payload}, sort_keys=True),
                  flush=True)
            if self.left is not None:
                self.left -= 1
                if self.left <= 0:
                    self.done.set()
        return oslo_messaging.NotificationResult.HANDLED


def do_listen(conf):
    """An example consumer of the daemon's notifications."""
    transport = oslo_messaging.get_notification_transport(conf)
    printer = _EventPrinter(conf.category.exit_after)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic) for topic in
                    conf.oslo_messaging_notifications.topics],
        [printer], executor='threading', pool=conf.category.pool)
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


def do_db_sync(conf):
    history.History.from_conf(conf).sync()
    print('Database is at the latest revision.')
    return 0


def do_db_version(conf):
    print(history.History.from_conf(conf).version() or 'empty')
    return 0


def _add_format(parser):
    parser.add_argument('--format', choices=('table', 'json'),
                        default='table')


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Manage the history database.')
    db_sub = db.add_subparsers(dest='action', required=True)
    db_sub.add_parser('sync', help='Create or upgrade the schema.'
                      ).set_defaults(func=do_db_sync)
    db_sub.add_parser('version', help='Print the schema revision.'
                      ).set_defaults(func=do_db_version)

    check = subparsers.add_parser(
        'check', help='Run one pass now and print what it found.')
    check.add_argument('--backend', help='Only this backend group.')
    _add_format(check)
    check.set_defaults(func=do_check)

    findings = subparsers.add_parser('findings', help='Recorded findings.')
    findings_sub = findings.add_subparsers(dest='action', required=True)
    listing = findings_sub.add_parser('list', help='List findings.')
    listing.add_argument('--state',
                         choices=[s.value for s in model.FindingState])
    listing.add_argument('--backend')
    listing.add_argument('--kind',
                         choices=[k.value for k in model.FindingKind])
    _add_format(listing)
    listing.set_defaults(func=do_findings_list)

    names = subparsers.add_parser(
        'name-map', help="Map Cinder UUIDs to the array's names and back.")
    names.add_argument('backend', help='A backend group name.')
    names.add_argument('value', nargs='?',
                       help='A Cinder volume/snapshot UUID or an array name.')
    names.add_argument('--all', action='store_true',
                       help="Every Cinder volume and snapshot of the backend "
                            "with its array name and whether it exists.")
    _add_format(names)
    names.set_defaults(func=do_name_map)

    listen = subparsers.add_parser(
        'listen', help="Print the daemon's notifications as JSON lines.")
    listen.add_argument('--pool', help='Receive a copy in this listener '
                        'pool instead of taking events from the shared '
                        'notification queue.')
    listen.add_argument('--exit-after', type=int, metavar='N',
                        help='Exit after N events.')
    listen.set_defaults(func=do_listen)


def main(argv=None):
    conf = cfg.CONF
    conf.register_cli_opt(cfg.SubCommandOpt(
        'category', title='Commands', handler=add_command_parsers))
    reconciler_conf.prepare(conf, sys.argv[1:] if argv is None else argv,
                            stdout_is_output=True)
    try:
        return conf.category.func(conf)
    except (exception.ReconcilerError,) + exception.DATABASE_ERRORS as e:
        print('Error: %s' % exception.describe(e), file=sys.stderr)
        return 1
