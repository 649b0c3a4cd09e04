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

"""The self-contained demo: a real Cinder API and an array on loopback.

``python -m reconciler.cmd.demo`` (what ``tools/demo.sh`` runs) seeds a real
cinder-api and a file-backed array from simulators/scenarios/demo.yaml, which
plants one orphan of each kind, and a compute node's host root
(simulators/host.py) with one of each host kind: a LUN left behind by a
detach, a detached volume's multipath map with every path failed, an
attached volume's map with every path failed, a session without its LUN,
and an attachment in Cinder whose device the host lacks. The compute node
runs the host agent (reconciler.agent: its own configuration file, with
the message transport and [host_scan] only) and the controller (the
daemon's passes, its RPC server) judges what the agent reports, over
oslo.messaging's in-memory driver. It runs the passes a few times, backends
and host (the first sightings make findings *suspected*, the next confirm
them), and prints each pass's report, the notifications an oslo.messaging
listener received and the findings recorded in SQLite. Then remediation:
the dry-run plan, and, given Cinder's volume service (``--allinone``: it
imports Cinder, so it lives with the tests), one applied adoption and one
removed export, and the pass that resolves them; and on the compute node,
the leftover LUN and the faulty map disconnected by its agent through
os-brick's own iSCSI connector (the host root answers its commands; the
other three host findings are report-only) and the host pass that
resolves those two. With ``--allinone``, the cloud scope too
(reconciler.cmd.demo_cloud): Cinder against the demo's Nova and Keystone,
a stale attachment deleted and an undeletable volume's runbook; and
Cinder's notifications, sent to a private RabbitMQ node
(simulators/rabbitmq.py) and recorded by the controller's listener
(reconciler.listener) as the daemon runs it: a fake1 volume unmanaged
through Cinder's API stays on the array, and the passes report it
``unmanaged``, naming the event, never an orphan to remediate. The
confirmed findings are also listed through the REST API: a real Keystone
and cinder-reconciler-api under uWSGI, asked by ``openstack orphan list``
with an admin's token.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from oslo_config import cfg
import oslo_messaging

from reconciler.agent import endpoint as agent_endpoint
from reconciler.agent import reporter as agent_reporter
from reconciler.cmd import demo_cloud
from reconciler.cmd import output
from reconciler.cmd import report
from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import coordination
from reconciler.fleet import endpoint as fleet_endpoint
from reconciler.fleet import remediation as fleet_remediation
from reconciler import history
from reconciler.history import views
from reconciler import listener as listener_mod
from reconciler import manager
from reconciler import notifier as notifier_mod
from reconciler.remediation import remediator
from reconciler.rpc import agent_api
from reconciler.rpc import api as rpc_api
from reconciler.rpc import base as rpc_base
from reconciler.rpc import controller as rpc_controller
from reconciler.rpc import host_api
from reconciler.rpc import signing
from reconciler.simulators import arrays
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import fake_array
from reconciler.simulators import host as host_sim
from reconciler.simulators import keystone as keystone_sim
from reconciler.simulators import ports
from reconciler.simulators import rabbitmq
from reconciler.simulators import scenario as scenario_mod

SCENARIO = os.path.join(os.path.dirname(scenario_mod.__file__), 'scenarios',
                        'demo.yaml')
DEMO_HOST = 'demo-host'
COMPUTE = 'compute-9'       # the host whose devices its agent scans
AUTH_KEY = 'demo-controllers-secret'  # [agents] auth_key
PORTAL = '127.0.0.1:3260'
PORTALS = (PORTAL, '127.0.0.2:3260')  # the target's two portals
WWID = '36001405aaaaaaaaaaaaaaaaaaaaaaaa%d'  # of LUN n on compute-9
IQN = 'iqn.2010-10.org.openstack:volume-%s'
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
    ('handed-back', 'renamed on unmanage (unm-): classified, not flagged'),
    ('other-2', "another host's volume: out of scope"),
    ('lh-restored-leftover', 'LeftHand, planted: array-only volume'),
    ('lh-lost', 'LeftHand, planted: Cinder-only volume'),
    ('lh-migrated', 'LeftHand, planted: exported to compute-4 (by name_id)'),
    ('3par-restored-leftover', '3PAR, planted: array-only VV'),
    ('3par-crashed-delete-snap', '3PAR, planted: array-only virtual copy'),
    ('3par-lost', '3PAR, planted: Cinder-only volume'),
    ('3par-migrated', '3PAR, planted: VLUN to compute-5 (by name_id)'),
    ('3par-migrating', '3PAR, migrating: its tsv- temporary expected'),
    ('3par-old-migration', '3PAR, planted: tsv- of no migration (stale)'),
    ('nec-restored-leftover', 'NEC, planted: array-only LD'),
    ('nec-crashed-delete-snap', 'NEC, planted: array-only snapshot SV'),
    ('nec-lost', 'NEC, planted: Cinder-only volume'),
    ('nec-scratch', 'NEC, planted: in the LD set of compute-6'),
    ('nec-snap', "NEC, planted: its _l link volume, no backup's (stale)"),
    ('nec-db', 'NEC, attached, in its LD set: never flagged'),
    ('host-attached', 'compute-9: attached, its device there: consistent'),
    ('host-detached', 'compute-9, planted: its LUN left after the detach'),
    ('host-faulty-map', 'compute-9, planted: detached, its multipath map '
                        'left, every path failed'),
    ('host-faulty-attached', 'compute-9, planted: attached, every path of '
                             'its map failed (an alert)'),
    ('host-stale-session', 'compute-9, planted: its LUN deleted, its '
                           'session never logged out'),
    ('host-missing-device', 'compute-9, planted: attached in Cinder, no '
                            'device there'),
    ('unmanaged-in-cinder', "unmanaged through Cinder's API: its events "
                            'say so'),
)

CONF_HEAD = """\
[DEFAULT]
host = {host}
enabled_backends = {backends}
log_file = {workdir}/cinder-reconciler.log
# RPC with the agents: oslo.messaging's in-memory driver, in one process.
transport_url = fake:/
state_path = {workdir}/state

[backend_defaults]
reconciler_sightings = 2
reconciler_grace_period = 0
reconciler_stale_temporary_grace_period = 0
reconciler_remediation_min_age = 0

[agents]
auth_key = {auth_key}

# How the controller judges the agents' scans.
[host_scan]
sightings = 2
grace_period = 0
owned_targets = iqn.2010-10.org.openstack:
remediation_min_age = 0

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
# Cinder's notifications, heard by the controller's listener.
CINDER_NOTIFICATIONS = """
[cinder_notifications]
transport_url = {url}
restart_interval = 1
"""


def _conf_text(scn, workdir, cloud, stack, keystone=None, broker=None):
    """Our config file: a head, then each backend group as from cinder.conf.

    With Cinder's volume service for fake1, the fake array is the file its
    driver manages objects in. With ``keystone``, the cloud scope's groups;
    with ``broker``, the listener's of Cinder's notifications.
    """
    backends = [b.name for b in scn.backends if b.host == DEMO_HOST]
    text = CONF_HEAD.format(host=DEMO_HOST, backends=','.join(backends),
                            workdir=workdir, endpoint=cloud.endpoint,
                            token=cinder_sim.ADMIN_TOKEN, auth_key=AUTH_KEY)
    if broker is not None:
        text += CINDER_NOTIFICATIONS.format(url=broker.url)
    if keystone is not None:
        text += demo_cloud.conf_text(keystone)
    for name in backends:
        options = arrays.start(scn, name, workdir, stack)
        if name in [b.name for b in cloud.volume_services
                    if b.driver == 'fake']:
            options['fake_array_file'] = cloud.array_path(name)
        text += '\n[%s]\n' % name + ''.join(
            '%s = %s\n' % item for item in options.items())
    return text


def _write_managed_array(scn, cloud, name):
    """fake1's array, where Cinder's volume service manages objects too
    (it reads a snapshot's size, which the reconciler's driver does not).
    """
    array = fake_array.render(scn, name)
    array = dict(array, pools=scn.backend(name).pools, snapshots=[
        dict(s, size=1) for s in array.get('snapshots') or ()])
    os.makedirs(os.path.dirname(cloud.array_path(name)), exist_ok=True)
    with open(cloud.array_path(name), 'w') as f:
        json.dump(array, f)


AGENT_CONF = """\
# The compute node's agent: the message transport and [host_scan], nothing
# else (no database, no Cinder credentials).
[DEFAULT]
transport_url = fake:/
log_file = {workdir}/cinder-reconciler-agent.log

[host_scan]
connector_host = {compute}
root_prefix = {workdir}/host
lock_path = {workdir}
report_key = {key}
"""


def _agent_conf(workdir):
    """The agent's configuration (its file, written beside ours)."""
    path = os.path.join(workdir, 'cinder-reconciler-agent.conf')
    with open(path, 'w') as f:
        f.write(AGENT_CONF.format(workdir=workdir, compute=COMPUTE,
                                  key=signing.host_key(AUTH_KEY, COMPUTE)))
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    conf(['--config-file', path], project='cinder-reconciler')
    rpc_api.configured(conf)
    return conf, path


class _Fleet(object):
    """The controller's RPC server and the compute node's agent, over one
    in-memory transport.
    """

    def __init__(self, conf, store, notifier, node, workdir):
        self.stop = threading.Event()
        self.transport = rpc_api.get_transport(conf)
        self.coordinator = coordination.Coordinator(conf)
        self.coordinator.start()
        self.controller = fleet_endpoint.HostEndpoint(
            rpc_controller.Services(conf, store, notifier, self.coordinator,
                                    self.stop, self.transport))
        self.reports = []
        self.controller.on_record = self.reports.append
        self.agent_conf, self.agent_path = _agent_conf(workdir)
        self.servers = [
            rpc_api.Server(self.transport, rpc_controller.TOPIC, conf.host,
                           [rpc_base.BaseEndpoint(rpc_controller.BINARY,
                                                  conf.host),
                            self.controller]),
            rpc_api.Server(self.transport, agent_api.TOPIC, COMPUTE,
                           [agent_endpoint.AgentEndpoint(
                               self.agent_conf, node.runner, node.execute)])]
        for server in self.servers:
            server.start()
            server.started.wait(10)
        self.agent = agent_reporter.Reporter(
            self.agent_conf, host_api.HostAPI(self.agent_conf,
                                              self.transport), node.runner)

    def host_pass(self):
        """The agent's pass: scan, report; the controller's pass report."""
        del self.reports[:]
        answer = self.agent.run_pass()
        print('%s (cinder-reconciler-agent): scanned and reported: %s%s'
              % (COMPUTE, answer.get('status'), ', run %s (%s)' % (
                  answer.get('run_id'), answer.get('run_status'))
                 if answer.get('run_id') else ''))
        return self.reports[-1] if self.reports else None

    def close(self):
        self.stop.set()
        for server in self.servers:
            server.stop()
        self.coordinator.stop()
        self.transport.cleanup()


def _iscsi_info(volume_id, lun, portals=(PORTAL,)):
    """connection_info as Cinder's LVM driver returns it (no secret); with
    more than one portal, the lists of a multipath attach.
    """
    info = {'driver_volume_type': 'iscsi', 'target_discovered': False,
            'target_iqn': IQN % volume_id, 'target_portal': portals[0],
            'target_lun': lun, 'access_mode': 'rw', 'encrypted': False}
    if len(portals) > 1:
        info.update(target_portals=list(portals),
                    target_iqns=[IQN % volume_id] * len(portals),
                    target_luns=[lun] * len(portals))
    return info


def _compute_node(workdir, cloud):
    """compute-9's host root, and its volumes' attachments in Cinder.

    A boot disk; the LUN of its attached volume; the LUN a detach left
    behind (its attachment is gone in Cinder). On the target's two portals
    (multipathd's find_multipaths makes a map of two paths only): the map
    of a detached volume whose disconnect never ran (its export is gone,
    every path failed) and the map of an attached volume whose target
    stopped answering (every path failed, the instance has it open). A
    session whose LUN a detach deleted, then never logged out; and a
    volume Cinder shows attached here whose device is gone (a detach that
    removed it on the host, its attachment never deleted in Cinder).
    """
    root = os.path.join(workdir, 'host')
    os.makedirs(root, exist_ok=True)
    node = host_sim.HostRoot(root)
    node.add_disk('sda', '0:0:0:0', model='SAMSUNG')
    node.mount('/dev/sda', '/')
    uid = scenario_mod.uid
    for label, portals in (('host-attached', (PORTAL,)),
                           ('host-faulty-attached', PORTALS),
                           ('host-missing-device', (PORTAL,))):
        cloud.add_attachment(uid(label), COMPUTE,
                             _iscsi_info(uid(label), 1, portals))
    for dev, hctl, label, wwid in (
            ('sdb', '3:0:0:1', 'host-attached', WWID % 1),
            ('sdc', '4:0:0:1', 'host-detached', WWID % 2)):
        node.add_disk(dev, hctl, wwid, iscsi=(PORTAL, IQN % uid(label), 1))
    for dm, name, label, wwid, paths, opened in (
            ('dm-0', 'mpatha', 'host-faulty-map', WWID % 4,
             (('sde', '6:0:0:1'), ('sdf', '7:0:0:1')), 0),
            ('dm-1', 'mpathb', 'host-faulty-attached', WWID % 5,
             (('sdg', '8:0:0:1'), ('sdh', '9:0:0:1')), 1)):
        for (dev, hctl), portal in zip(paths, PORTALS):
            node.add_disk(dev, hctl, wwid,
                          iscsi=(portal, IQN % uid(label), 1))
        devs = [dev for dev, _hctl in paths]
        node.add_map(dm, name, wwid, devs, faulty=devs, open_count=opened)
    node.add_session(IQN % uid('host-stale-session'), PORTAL)
    return node


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


def start(workdir, stack, allinone=None, volume_services=('fake1',),
          keystone=None, broker=None):
    """The demo cloud, stopped by ``stack``, and our configuration for it.

    A real cinder-api seeded from the scenario (given ``allinone``, with
    Cinder's scheduler and a volume service for each of
    ``volume_services``) and every array of the demo host on loopback;
    given ``keystone``, the cloud scope reads it; given ``broker`` (a
    simulators.rabbitmq node), Cinder notifies on it and we listen.
    Returns (scenario, cloud, path of the configuration file).
    """
    scn = scenario_mod.Scenario.load(SCENARIO)
    cloud = cinder_sim.CinderCloud(
        os.path.join(workdir, 'cinder'), scn,
        volume_services=volume_services if allinone else (),
        allinone=allinone, notifications_url=broker and broker.url)
    if allinone and 'fake1' in volume_services:
        _write_managed_array(scn, cloud, 'fake1')
    stack.enter_context(cloud)
    conf_path = os.path.join(workdir, 'cinder-reconciler.conf')
    with open(conf_path, 'w') as f:
        f.write(_conf_text(scn, workdir, cloud, stack, keystone, broker))
    return scn, cloud, conf_path


def _start_keystone(workdir, stack):
    """Keystone, started now: it comes up while the passes run."""
    keystone = keystone_sim.Keystone(os.path.join(workdir, 'keystone'))
    stack.callback(keystone.stop)
    keystone.start(wait=False)
    return keystone


def _start_broker(workdir, stack):
    """A private RabbitMQ node, started now: it comes up with Cinder."""
    broker = rabbitmq.RabbitMQ(os.path.join(workdir, 'rabbitmq'),
                               *[ports.free_port() for _ in 'abc'])
    stack.callback(broker.stop)
    broker.start(wait=False)
    return broker


def _unmanage(conf, store, cloud, broker, stack):
    """The controller's listener of Cinder's notifications, started as the
    daemon starts it, and a fake1 volume unmanaged through Cinder's API:
    its object stays on the array, and only the events Cinder sends say
    why (the passes then call it ``unmanaged``, never an orphan).
    """
    volume_id = scenario_mod.uid('unmanaged-in-cinder')
    cloud.add_volumes([scenario_mod.Volume(volume_id, 'fake1')])
    with open(cloud.array_path('fake1')) as f:
        array = json.load(f)
    array['volumes'].append({'name': 'volume-%s' % volume_id,
                             'pool': 'pool1', 'size': 1})
    with open(cloud.array_path('fake1'), 'w') as f:
        json.dump(array, f)
    broker.wait_ready()
    since = time.time()
    listener = listener_mod.CinderListener(conf, store,
                                           backend_conf.enabled(conf))
    listener.start()
    stack.callback(listener.stop)

    def wait_for(condition, what):
        deadline = time.monotonic() + 60
        while not condition():
            if time.monotonic() > deadline:
                raise RuntimeError('demo: %s' % what)
            time.sleep(0.2)

    wait_for(lambda: store.listener_started_since('fake1', since),
             "the listener of Cinder's notifications did not start")
    _section("Cinder unmanages a volume; the controller's listener of "
             "Cinder's notifications records why (RabbitMQ, Debian's "
             'rabbitmq-server, at 127.0.0.1:%d; [cinder_notifications], '
             'pool %s)' % (broker.port, conf.cinder_notifications.pool))
    session = cloud.session()
    session.post('%s/volumes/%s/action' % (cloud.endpoint, volume_id),
                 json={'os-unmanage': None})
    print("POST /v3/volumes/%s/action {\"os-unmanage\": null}: Cinder "
          "forgets it, its object stays on fake1's array" % volume_id)
    wait_for(lambda: session.get(
        '%s/volumes/%s' % (cloud.endpoint, volume_id),
        raise_exc=False).status_code == 404, 'the unmanage did not end')

    def said():
        return [e for e in store.events_for('fake1', [volume_id])
                if e.event_type.startswith('volume.unmanage.')]
    wait_for(lambda: len(said()) == 2, 'the unmanage was not recorded')
    for event in said():
        print('recorded: %s of %s, event %d (Cinder message %s)'
              % (event.event_type, event.host, event.id, event.message_id))


def _list_through_the_api(workdir, stack, keystone, conf):
    """The API on our history, in Keystone's catalog, and ``openstack
    orphan list`` of the confirmed findings, as Keystone's admin.
    """
    started = time.monotonic()
    keystone.wait_ready()
    api = keystone_sim.ReconcilerApi(
        os.path.join(workdir, 'api'), keystone,
        conf.reconciler_database.connection)
    stack.callback(api.stop)
    api.start()
    keystone.register(keystone_sim.SERVICE_TYPE, 'cinder-reconciler-api',
                      api.url)
    command = ['openstack', 'orphan', 'list', '--state', 'confirmed',
               '-c', 'ID', '-c', 'Backend', '-c', 'Kind', '-c',
               'Resource ID', '--sort-column', 'Backend']
    _section('The same findings through the REST API: Keystone and '
             'cinder-reconciler-api (uWSGI) at %s; %s'
             % (api.url, ' '.join(command)))
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), command[0])]
        + command[1:], env=keystone.openstack_env(), capture_output=True,
        text=True, timeout=300)
    print(result.stdout.rstrip() or result.stderr.rstrip())
    print('(%.1f s: the rest of Keystone\'s start, the API\'s, the command; '
          'Keystone started with the demo)' % (time.monotonic() - started))


def run(workdir, passes, allinone=None):
    print('Demo cloud in %s' % workdir)
    with contextlib.ExitStack() as stack:
        keystone = _start_keystone(workdir, stack)
        broker = _start_broker(workdir, stack) if allinone else None
        # The cloud scope's planted volumes live on fake1's managed array.
        scn, cloud, conf_path = start(workdir, stack, allinone,
                                      keystone=allinone and keystone,
                                      broker=broker)
        print('Real cinder-api %s at %s%s: %d volumes, %d snapshots seeded'
              % (cinder_sim.CINDER_VERSION, cloud.endpoint,
                 ' (with cinder-scheduler and a cinder-volume for fake1)'
                 if allinone else '', len(scn.volumes), len(scn.snapshots)))
        node = _compute_node(workdir, cloud)
        nova = demo_cloud.start_nova(keystone, stack)
        if allinone:
            demo_cloud.plant(cloud, node, cloud.array_path('fake1'), PORTAL,
                             IQN, COMPUTE)
        print('Arrays on loopback: %s; configuration: %s' % (', '.join(
            '%s (%s)' % (b.name, b.driver) for b in scn.backends
            if b.host == DEMO_HOST), conf_path))
        conf = cfg.ConfigOpts()
        reconciler_conf.prepare(conf, ['--config-file', conf_path])
        store = history.History.from_conf(conf)
        store.sync()
        if allinone:
            _unmanage(conf, store, cloud, broker, stack)
        notifier = notifier_mod.Notifier(conf)
        listener, received = _listen(notifier.transport)
        kinds = set(conf.reconciler.notify_kinds)
        sent = 0
        fleet = _Fleet(conf, store, notifier, node, workdir)
        stack.callback(fleet.close)
        print('%s runs the host agent, configured by %s alone (the message '
              'transport and [host_scan]: no database, no Cinder '
              'credentials); the controller judges its scans'
              % (COMPUTE, fleet.agent_path))
        try:
            for n in range(1, passes + 1):
                _section('Pass %d of the daemon over each backend, over %s '
                         'and over the cloud (cinder-reconciler-manage '
                         'check runs the same)' % (n, COMPUTE))
                for backend in backend_conf.enabled(conf):
                    result = manager.BackendReconciler(
                        conf, backend, store, notifier).run_pass()
                    notifier.flush(store)
                    print(report.pass_text(result))
                    sent += len(notifier_mod.finding_events(
                        result.transitions, kinds))
                result = fleet.host_pass()
                notifier.flush(store)
                print(report.host_pass_text(result))
                sent += len(notifier_mod.finding_events(
                    result.transitions, kinds))
                if conf.cloud.enabled:
                    if n == 1:  # Keystone started meanwhile
                        demo_cloud.populate(cloud, keystone, nova)
                    result = demo_cloud.run_pass(conf, store, notifier)
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
        output.emit_list(output.TABLE, [
            views.finding_dict(f) for f in store.findings(state='confirmed')],
            views.FINDING_FIELDS, report.FINDING_COLUMNS)
        _list_through_the_api(workdir, stack, keystone, conf)
        _section('What was planted, and what must not be flagged')
        for label, note in PLANTED + demo_cloud.PLANTED:
            print('  %-36s %-20s %s' % (scenario_mod.uid(label), label, note))
        print('  and the volumes of project-c, deleted in Keystone')
        if allinone:
            demo_cloud.remediate(conf, store, notifier, cloud, fleet,
                                 _section)
        _remediate(conf, store, notifier, cloud, allinone)
        _remediate_host(conf, store, notifier, fleet)


def _remediate(conf, store, notifier, cloud, allinone):
    """The plan, then (with a volume service) one adoption and one
    removed export, and the pass that resolves them.
    """
    fake1 = [b for b in backend_conf.enabled(conf) if b.name == 'fake1'][0]

    def remediate(**kwargs):
        return remediator.Remediator(conf, fake1, store, notifier,
                                     'demo').run(**kwargs)

    _section('Remediation plan for fake1 (cinder-reconciler-manage '
             'remediate --backend fake1: a dry run, nothing changes)')
    print(report.outcome_text(remediate()))
    if not allinone:
        print('\n(adoption needs a cinder-volume service: run tools/demo.sh)')
        return
    leftover = scenario_mod.uid('restored-leftover')
    scratch = scenario_mod.uid('scratch')
    ids = [f.id for f in store.findings(backend='fake1', state='confirmed')
           if f.resource_id == leftover
           or f.details.get('volume_uuid') == scratch]
    _section('Applied: adopt the array-only volume, remove the orphan export '
             '(remediate --backend fake1 --finding %s --apply)'
             % ' --finding '.join(map(str, ids)))
    print(report.outcome_text(remediate(apply=True, finding_ids=set(ids))))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(cloud.array_path('fake1')) as f:
            names = {v['name'] for v in json.load(f)['volumes']}
        if 'volume-%s' % leftover not in names:
            break  # Cinder's driver renamed it after the adopted volume
        time.sleep(0.5)
    _section('The next pass over fake1 resolves what remediation fixed')
    result = manager.BackendReconciler(conf, fake1, store,
                                       notifier).run_pass()
    notifier.flush(store)
    print(report.pass_text(result))
    _section('The audit (cinder-reconciler-manage actions list)')
    output.emit_list(output.TABLE, [views.action_dict(a) for a in
                                    store.actions(backend='fake1')],
                     views.ACTION_FIELDS)


def _remediate_host(conf, store, notifier, fleet):
    """compute-9's leftover LUN and faulty map: the plan (the alert, the
    stale session and the missing device are report-only), the
    disconnects its agent runs through os-brick (its real iSCSI
    connector, the host root answering its commands), and the agent's pass
    that resolves both findings.
    """
    def remediate(**kwargs):
        return fleet_remediation.AgentRemediator(
            conf, store, notifier, 'demo', COMPUTE, fleet.transport,
            fleet.coordinator, fleet=fleet.controller.fleet).run(**kwargs)

    _section('Remediation plan for %s (cinder-reconciler-manage remediate '
             '--host %s, on the controller: a dry run, the agent is not '
             'contacted)' % (COMPUTE, COMPUTE))
    print(report.outcome_text(remediate()))
    _section('Applied on %s by its agent: disconnect the leftover LUN and '
             'the faulty map through os-brick (remediate --host %s --apply '
             'on the controller)' % (COMPUTE, COMPUTE))
    print(report.outcome_text(remediate(apply=True)))
    _section('The next pass over %s resolves them' % COMPUTE)
    result = fleet.host_pass()
    notifier.flush(store)
    print(report.host_pass_text(result))
    _section('The audit of %s (cinder-reconciler-manage actions list '
             '--backend host:%s)' % (COMPUTE, COMPUTE))
    output.emit_list(output.TABLE, [views.action_dict(a) for a in
                                    store.actions(backend='host:' + COMPUTE)],
                     views.ACTION_FIELDS)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--workdir', help='Keep the demo cloud here.')
    parser.add_argument('--passes', type=int, default=2)
    parser.add_argument('--allinone', help="Cinder's API, scheduler and "
                        "volume service in one process (the tests' "
                        'tests/incinder/allinone.py), for adoption.')
    args = parser.parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix='reconciler-demo-')
    os.makedirs(workdir, exist_ok=True)
    try:
        run(os.path.abspath(workdir), args.passes,
            args.allinone and os.path.abspath(args.allinone))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
