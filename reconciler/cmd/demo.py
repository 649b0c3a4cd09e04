"""The self-contained demo: a real Cinder API and an array on loopback.

``python -m reconciler.cmd.demo`` (what ``tools/demo.sh`` runs) seeds a real
cinder-api and a file-backed array from simulators/scenarios/demo.yaml, which
plants one orphan of each kind, then runs the daemon's own pass a few times
(the first sightings make findings *suspected*, the next confirm them) and
prints each pass's report, the notifications an oslo.messaging listener
received, and the findings recorded in SQLite.
"""

import argparse
import contextlib
import json
import os
import shutil
import tempfile
import threading

from oslo_config import cfg
import oslo_messaging

from reconciler.cmd import report
from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import history
from reconciler import manager
from reconciler import notifier as notifier_mod
from reconciler.simulators import arrays
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import scenario as scenario_mod

SCENARIO = os.path.join(os.path.dirname(scenario_mod.__file__), 'scenarios',
                        'demo.yaml')
DEMO_HOST = 'demo-host'
PLANTED = (
    ('restored-leftover', 'planted: array-only volume'),
    ('crashed-delete-snap', 'planted: array-only snapshot'),
    ('lost-on-array', 'planted: Cinder-only volume'),
    ('lost-snap', 'planted: Cinder-only snapshot'),
    ('scratch', 'planted: exported to compute-3, attached nowhere'),
    ('being-created', 'in flight (creating): never flagged'),
    ('being-deleted', 'in flight (deleting): never flagged'),
    ('migrated', 'migrated, object named after name_id: consistent'),
    ('clone-tmp', 'clone temporary: classified, not flagged'),
    ('handed-back', 'unmanaged (unm-): classified, not flagged'),
    ('other-2', "another host's volume: out of scope"),
    ('lh-restored-leftover', 'LeftHand, planted: array-only volume'),
    ('lh-lost', 'LeftHand, planted: Cinder-only volume'),
    ('lh-migrated', 'LeftHand, planted: exported to compute-4 (by name_id)'),
    ('3par-restored-leftover', '3PAR, planted: array-only VV'),
    ('3par-crashed-delete-snap', '3PAR, planted: array-only virtual copy'),
    ('3par-lost', '3PAR, planted: Cinder-only volume'),
    ('3par-migrated', '3PAR, planted: VLUN to compute-5 (by name_id)'),
    ('nec-restored-leftover', 'NEC, planted: array-only LD'),
    ('nec-crashed-delete-snap', 'NEC, planted: array-only snapshot SV'),
    ('nec-lost', 'NEC, planted: Cinder-only volume'),
    ('nec-scratch', 'NEC, planted: in the LD set of compute-6'),
    ('nec-db', 'NEC, attached, in its LD set: never flagged'),
)

CONF_HEAD = """\
[DEFAULT]
host = {host}
enabled_backends = {backends}
log_file = {workdir}/cinder-reconciler.log

[backend_defaults]
reconciler_sightings = 2
reconciler_grace_period = 0

[cinder]
auth_type = admin_token
endpoint = {endpoint}
token = {token}

[reconciler_database]
connection = sqlite:///{workdir}/reconciler.sqlite

[oslo_messaging_notifications]
driver = messagingv2
transport_url = fake:/
"""


def _conf_text(scn, workdir, endpoint, stack):
    """Our config file: a head, then each backend group as from cinder.conf."""
    backends = [b.name for b in scn.backends if b.host == DEMO_HOST]
    text = CONF_HEAD.format(host=DEMO_HOST, backends=','.join(backends),
                            workdir=workdir, endpoint=endpoint,
                            token=cinder_sim.ADMIN_TOKEN)
    for name in backends:
        options = arrays.start(scn, name, workdir, stack)
        text += '\n[%s]\n' % name + ''.join(
            '%s = %s\n' % item for item in options.items())
    return text


class _Received(object):
    """oslo.messaging notification endpoint that keeps what it receives."""

    def __init__(self):
        self.events = []
        self.arrived = threading.Condition()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        with self.arrived:
            self.events.append((publisher_id, event_type, payload))
            self.arrived.notify_all()

    error = info

    def wait_for(self, count, timeout=10):
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.events) >= count, timeout)


def _listen(transport):
    endpoint = _Received()
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic='notifications')], [endpoint],
        executor='threading')
    listener.start()
    return listener, endpoint


def _section(title):
    print('\n=== %s ===' % title)


def run(workdir, passes):
    scn = scenario_mod.Scenario.load(SCENARIO)
    print('Demo cloud in %s' % workdir)
    with contextlib.ExitStack() as stack:
        cloud = stack.enter_context(cinder_sim.CinderCloud(
            os.path.join(workdir, 'cinder'), scn))
        print('Real cinder-api %s at %s: %d volumes, %d snapshots seeded'
              % (cinder_sim.CINDER_VERSION, cloud.endpoint, len(scn.volumes),
                 len(scn.snapshots)))
        conf_path = os.path.join(workdir, 'cinder-reconciler.conf')
        with open(conf_path, 'w') as f:
            f.write(_conf_text(scn, workdir, cloud.endpoint, stack))
        print('Arrays on loopback: %s; configuration: %s' % (', '.join(
            '%s (%s)' % (b.name, b.driver) for b in scn.backends
            if b.host == DEMO_HOST), conf_path))
        conf = cfg.ConfigOpts()
        reconciler_conf.prepare(conf, ['--config-file', conf_path])
        store = history.History.from_conf(conf)
        store.sync()
        notifier = notifier_mod.Notifier(conf)
        listener, received = _listen(notifier.transport)
        kinds = set(conf.reconciler.notify_kinds)
        sent = 0
        try:
            for n in range(1, passes + 1):
                _section('Pass %d of the daemon over each backend '
                         '(cinder-reconciler-manage check runs the same)' % n)
                for backend in backend_conf.enabled(conf):
                    result = manager.BackendReconciler(
                        conf, backend, store, notifier).run_pass()
                    notifier.flush(store)
                    print(report.pass_text(result))
                    sent += len(notifier_mod.finding_events(
                        result.transitions, kinds))
            received.wait_for(sent)
        finally:
            listener.stop()
            listener.wait()
            notifier.close()
        _section('Notifications received by an oslo.messaging listener')
        for publisher, event_type, payload in received.events:
            print('%s from %s: %s %s %s' % (
                event_type, publisher, payload['kind'],
                payload['resource_type'], payload['resource_id']))
        if received.events:
            print('\nOne payload in full:')
            print(json.dumps(received.events[0][2], indent=2))
        _section('Confirmed findings recorded in %s'
                 % conf.reconciler_database.connection)
        print(report.findings_table(store.findings(state='confirmed')))
        _section('What was planted, and what must not be flagged')
        for label, note in PLANTED:
            print('  %-36s %-20s %s' % (scenario_mod.uid(label), label, note))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', help='Keep the demo cloud here.')
    parser.add_argument('--passes', type=int, default=2)
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix='reconciler-demo-')
    os.makedirs(workdir, exist_ok=True)
    try:
        run(os.path.abspath(workdir), args.passes)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
