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

"""Host agents over a real RabbitMQ: a controller and two compute nodes.

A real cinder-api holds attachments of both hosts, with CHAP secrets in
their connection_info; the controller is the real daemon in a process of
its own; each compute node has a host root of its own. Every byte the
processes exchange through the broker crosses a recording relay.
The broker and cinder-api are started once for the class.
"""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from reconciler.agent import service as agent_service
from reconciler import conf as reconciler_conf
from reconciler.fleet import views
from reconciler import history
from reconciler.rpc import api
from reconciler.rpc import controller
from reconciler.rpc import host_api
from reconciler.rpc import signing
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn
from tests.functional import fixtures as local_fixtures
from tests import servers
from tests.unit.host import fixtures as host_fixtures
from tests.unit.host import test_compare as tc

HOSTS = ('compute-1', 'compute-2')
V = {n: scn.uid('agents-' + n) for n in (
    'c1-attached', 'c1-detached', 'c2-attached', 'idle', 'multi')}
IQN = 'iqn.2010-10.org.openstack:volume-%s'
SECRET = 'chap-s3cr3t-of-agents'
AUTH_KEY = 'the-controllers-secret'
LEFT_WWID = tc.WWID[2]


def iscsi(name, lun=1):
    return dict(tc.iscsi_info(IQN % V[name], lun), auth_password=SECRET,
                volume_id=V[name])


CONTROLLER = """
[DEFAULT]
host = ctl
enabled_backends =
state_path = {tmp}/state
transport_url = {url}
control_exchange = {exchange}
rpc_response_timeout = 20

[reconciler]
periodic_fuzzy_delay = 0

[agents]
view_interval = 10
auth_key = {auth_key}
stale_intervals = 1

[host_scan]
sightings = 1
grace_period = 0
owned_targets = iqn.2010-10.org.openstack:
remediation_min_age = 0
lock_timeout = 10

[metrics]
port = {metrics}

[oslo_messaging_notifications]
driver = log
"""

AGENT = """
[DEFAULT]
transport_url = {url}
control_exchange = {exchange}
rpc_response_timeout = {timeout}

[reconciler]
periodic_fuzzy_delay = 0

[host_scan]
connector_host = {host}
interval = 10
root_prefix = {root}
root_helper = {helper}
lock_path = {lock_path}
lock_timeout = 10
report_key = {key}
"""

_HELPER = '#!/bin/sh\nexec "$@"\n'


class AgentsTest(testtools.TestCase):
    """One broker, cinder-api and controller for the class; each test's
    compute nodes have host roots of their own.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        broker = servers.shared(servers.RabbitMQ)
        cls.relay = servers.Relay(broker.port)
        cls.relay.setUp()
        cls.url = 'rabbit://guest:guest@127.0.0.1:%d/' % cls.relay.port
        # A message exchange of the class's own: no other test's processes
        # meet these.
        cls.exchange = 'test-%s' % uuid.uuid4().hex[:8]
        cls.workdir = fixtures.TempDir()
        cls.workdir.setUp()
        cls.tmp = cls.workdir.path
        volumes = [scn.Volume(vid, 'lvm', project='project-%s' % n[:2])
                   for n, vid in V.items()]
        cls.cloud = cinder_sim.CinderCloud(
            os.path.join(cls.tmp, 'cinder'),
            scn.Scenario(backends=[scn.Backend('lvm', 'ctl', pools=['lvm'])],
                         volumes=volumes))
        cls.cloud.start()
        add = cls.cloud.add_attachment
        cls.att = {'c1-attached': add(V['c1-attached'], HOSTS[0],
                                      iscsi('c1-attached')),
                   'c2-attached': add(V['c2-attached'], HOSTS[1],
                                      iscsi('c2-attached'))}
        add(V['c1-detached'], HOSTS[0], iscsi('c1-detached'))
        cls.cloud.remove_attachment(V['c1-detached'], HOSTS[0])
        cls.metrics_port = servers.free_port()
        cls.conf_path = os.path.join(cls.tmp, 'controller.conf')
        with open(cls.conf_path, 'w') as f:
            f.write(local_fixtures._COMMON.format(
                tmp=cls.tmp, endpoint=cls.cloud.endpoint,
                token=cinder_sim.ADMIN_TOKEN,
                database='sqlite:///%s/r.sqlite' % cls.tmp))
            f.write(CONTROLLER.format(
                tmp=cls.tmp, url=cls.url, exchange=cls.exchange,
                auth_key=AUTH_KEY, metrics=cls.metrics_port))
        subprocess.run(cls.command('manage', 'db', 'sync'), check=True,
                       capture_output=True)
        cls.history = history.History('sqlite:///%s/r.sqlite' % cls.tmp)
        cls.daemon = None

    @classmethod
    def tearDownClass(cls):
        cls.stop_controller()
        cls.cloud.stop()
        cls.workdir.cleanUp()
        cls.relay.cleanUp()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(240, gentle=True))
        self.test_tmp = self.useFixture(fixtures.TempDir()).path
        self.roots = {}
        self.relay.take()

    def root(self, host):
        """``host``'s host root, laid out at the first call of a test."""
        if host in self.roots:
            return self.roots[host]
        root = self.roots[host] = self.useFixture(host_fixtures.HostRoot())
        root.add_disk('sda', '0:0:0:0', model='SAMSUNG')
        root.mount('/dev/sda', '/')
        if host == HOSTS[0]:
            root.add_disk('sdb', '3:0:0:1', tc.WWID[1],
                          iscsi=(tc.P1, IQN % V['c1-attached'], 1))
            # The LUN a detach left behind.
            root.add_disk('sdc', '4:0:0:1', LEFT_WWID,
                          iscsi=(tc.P1, IQN % V['c1-detached'], 1))
        elif host == HOSTS[1]:
            root.add_disk('sdb', '3:0:0:1', tc.WWID[3],
                          iscsi=(tc.P1, IQN % V['c2-attached'], 1))
        elif host == 'compute-5':
            # A LUN of a volume attached nowhere: a leftover.
            root.add_disk('sdb', '3:0:0:1', tc.WWID[5],
                          iscsi=(tc.P1, IQN % V['idle'], 1))
        return root

    # -- processes ----------------------------------------------------------

    @classmethod
    def command(cls, module, *args, conf=None):
        return [sys.executable, '-c',
                'import sys; from reconciler.cmd.%s import main; '
                'sys.exit(main())' % module,
                '--config-file', conf or cls.conf_path] + list(args)

    def manage(self, *args, check=True):
        return subprocess.run(self.command('manage', *args), check=check,
                              capture_output=True, text=True)

    def controller(self):
        """The class's controller, started if it is not running."""
        cls = type(self)
        if cls.daemon is not None and cls.daemon.poll() is None:
            return cls.daemon
        log = open(os.path.join(cls.tmp, 'controller.log'), 'a')
        cls.daemon = subprocess.Popen(cls.command('reconciler'), stdout=log,
                                      stderr=subprocess.STDOUT)
        log.close()
        # Answering ping: its RPC server consumes the controller topic.
        client = controller.client(self.agent_conf('ping'),
                                   self.transport(), timeout=5)
        deadline = time.monotonic() + 60
        while True:
            self.assertIsNone(cls.daemon.poll(), self.log())
            try:
                client.ping(api.context('test'))
                return cls.daemon
            except api.ERRORS:
                self.assertLess(time.monotonic(), deadline, self.log())

    @classmethod
    def stop_controller(cls):
        daemon, cls.daemon = cls.daemon, None
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()

    def log(self):
        with open(os.path.join(self.tmp, 'controller.log'),
                  errors='replace') as f:
            return f.read()[-4000:]

    def agent_text(self, host, timeout=20):
        root = self.root(host).root if host != 'ping' else self.test_tmp
        return AGENT.format(
            url=self.url, exchange=self.exchange, timeout=timeout,
            host=host, root=root, helper=self.helper(),
            lock_path=self.test_tmp, key=signing.host_key(AUTH_KEY, host))

    def agent_conf(self, host, timeout=20):
        path = os.path.join(self.test_tmp, '%s.conf' % host)
        with open(path, 'w') as f:
            f.write(self.agent_text(host, timeout))
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf(['--config-file', path], project='x', default_config_dirs=[])
        api.configured(conf)
        return conf

    def helper(self):
        path = os.path.join(self.test_tmp, 'root-helper')
        if not os.path.exists(path):
            with open(path, 'w') as f:
                f.write(_HELPER)
            os.chmod(path, 0o700)
        return path

    def transport(self):
        transport = api.get_transport(self.agent_conf('ping'))
        self.addCleanup(transport.cleanup)
        return transport

    def start_agent(self, host):
        """The agent of ``host`` in this process (its host root answers
        os-brick's commands); its first pass runs at once.
        """
        root = self.root(host)
        agent = agent_service.AgentService(self.agent_conf(host),
                                           runner=root.runner,
                                           execute=root.execute)
        agent.start()
        self.addCleanup(agent.stop)
        return agent

    def once(self, host, **kwargs):
        """One pass of ``host``'s agent, in this process."""
        return agent_service.run_once(self.agent_conf(host, **kwargs),
                                      runner=self.root(host).runner)

    def runs(self, host):
        return [r for r in self.history.runs(backend='host:' + host)
                if r.status != 'running']

    def wait_runs(self, host, count):
        deadline = time.monotonic() + 60
        while len(self.runs(host)) < count:
            self.assertLess(time.monotonic(), deadline, self.log())
            time.sleep(0.2)
        return self.runs(host)

    def findings(self, host):
        return {(f.kind, f.resource_id): f.state
                for f in self.history.findings(backend='host:' + host)}

    # -- the tests ----------------------------------------------------------

    def test_leftover_found_and_remediated_through_the_agent(self):
        self.controller()
        before = len(self.runs(HOSTS[1]))
        agent = self.start_agent(HOSTS[0])
        other = self.start_agent(HOSTS[1])
        run = self.wait_runs(HOSTS[0], 1)[-1]     # its first pass
        clean = self.wait_runs(HOSTS[1], before + 1)[0]
        self.assertEqual(('ok', 1, 'cycle'),
                         (clean.status, clean.inventory['attachments_here'],
                          clean.inventory['cinder_view']))
        self.assertEqual('ok', run.status, run.error)
        # The first comparison found the leftover: the agent scanned again
        # and the controller judged both scans against a fresh view.
        self.assertEqual((1, 'fresh'), (run.inventory['rechecked'],
                                        run.inventory['cinder_view']))
        self.assertEqual({('leftover_device', LEFT_WWID): 'confirmed'},
                         self.findings(HOSTS[0]))
        [finding] = self.history.findings(backend='host:' + HOSTS[0])
        self.assertEqual(V['c1-detached'], finding.cinder_id)

        plan = self.manage('remediate', '--host', HOSTS[0])
        self.assertIn('disconnect /dev/sdc', plan.stdout)
        self.assertIn('-> planned', plan.stdout)
        self.assertEqual([], self.root(HOSTS[0]).executed)

        applied = self.manage('remediate', '--host', HOSTS[0], '--apply',
                              check=False)
        self.assertEqual(0, applied.returncode,
                         applied.stdout + applied.stderr)
        self.assertIn('-> done: disconnected sdc (os-brick', applied.stdout)
        root = self.root(HOSTS[0])
        self.assertFalse(os.path.lexists(root.p('/sys/block/sdc')))
        self.assertTrue(os.path.lexists(root.p('/sys/block/sdb')))
        # The other compute node's agent was asked nothing.
        self.assertEqual([], self.root(HOSTS[1]).executed)
        self.assertEqual({}, self.findings(HOSTS[1]))
        self.assertIsNotNone(other)
        action, planned = self.history.actions(backend='host:' + HOSTS[0])
        self.assertEqual((('done', True), ('planned', False)),
                         ((action.result, action.applied),
                          (planned.result, planned.applied)))
        self.assertIn('commands on compute-1: ', action.reason)
        self.assertIn('tee -a /sys/block/sdc/device/delete', action.reason)

        # The next pass of the agent resolves it.
        answer = agent.reporter.run_pass()
        self.assertEqual(('recorded', 'ok'),
                         (answer['status'], answer['run_status']), answer)
        self.assertEqual({('leftover_device', LEFT_WWID): 'resolved'},
                         self.findings(HOSTS[0]))

        # What an agent may see of its host's Cinder view: its own
        # attachments, with targets and LUNs.
        seen = agent.reporter.view()
        self.assertEqual([self.att['c1-attached']],
                         [a.attachment_id for a in seen.attachments])
        self.assertEqual({('iscsi', IQN % V['c1-attached'], 1)},
                         {(t.protocol, t.target, t.lun)
                          for t in seen.attachments[0].targets})

        # Everything above crossed the broker; no secret did.
        wire = self.relay.take()
        for method in ('report', 'view', 'prepare', 'disconnect'):
            self.assertTrue(b'\\"method\\": \\"%s\\"' % method.encode()
                            in wire, method)
        self.assertTrue(V['c1-detached'].encode() in wire)
        self.assertFalse(SECRET.encode() in wire, 'a CHAP secret crossed')
        self.assertFalse(AUTH_KEY.encode() in wire, 'the auth key crossed')

    def test_agent_needs_no_database_nor_cinder_credentials(self):
        self.controller()
        host = HOSTS[1]
        bin_dir = self.root(host).install_commands(
            os.path.join(self.test_tmp, 'bin'))
        env = dict(os.environ, PATH=bin_dir + os.pathsep
                   + os.environ['PATH'])
        conf = os.path.join(self.test_tmp, 'agent.conf')
        with open(conf, 'w') as f:
            f.write(self.agent_text(host))
        before = len(self.runs(host))
        once = subprocess.run(
            self.command('agent', '--once', conf=conf), env=env,
            capture_output=True, text=True)
        self.assertEqual(0, once.returncode, once.stdout + once.stderr)
        self.assertRegex(once.stdout, r'Host compute-2: recorded run \d+ '
                                      r'\(ok\)')
        run = self.runs(host)[0]
        self.assertEqual(('ok', 1, before + 1),
                         (run.status, run.inventory['attachments_here'],
                          len(self.runs(host))))
        self.assertEqual({}, self.findings(host))

        # Given a controller's file, it reads none of it, and says so.
        database = os.path.join(self.test_tmp, 'agent.sqlite')
        with open(conf, 'a') as f:
            f.write('\n[reconciler_database]\nconnection = sqlite:///%s\n\n'
                    '[cinder]\nauth_type = password\npassword = %s\n'
                    % (database, SECRET))
        once = subprocess.run(
            self.command('agent', '--once', conf=conf), env=env,
            capture_output=True, text=True)
        self.assertEqual(0, once.returncode, once.stdout + once.stderr)
        logged = once.stdout + once.stderr
        ignored = [line for line in logged.splitlines()
                   if 'Ignored: ' in line]
        self.assertEqual(1, len(ignored), logged)
        self.assertIn('[reconciler_database], [cinder]', ignored[0])
        self.assertNotIn(SECRET, logged)
        self.assertFalse(os.path.exists(database))
        self.assertEqual(before + 2, len(self.runs(host)))
        # Its devices mapped to volumes, attachments and instances, with
        # what the controller serves it.
        mapped = subprocess.run(
            self.command('agent', '--host-map', '/dev/sdb', conf=conf),
            env=env, capture_output=True, text=True)
        self.assertEqual(0, mapped.returncode, mapped.stderr)
        [row] = json.loads(mapped.stdout)
        self.assertEqual(
            (V['c2-attached'], self.att['c2-attached'], 'yes'),
            (row['volume_id'], row['attachment_id'], row['attached_here']))

    def test_controller_down_records_nothing(self):
        host = 'compute-3'
        self.stop_controller()
        answer = self.once(host, timeout=3)
        self.assertEqual('unreachable', answer['status'])
        self.assertEqual('controller: no answer in time (MessagingTimeout); '
                         'nothing recorded, the next scan reports again',
                         answer['detail'])
        self.assertEqual([], self.history.runs(backend='host:' + host))
        self.controller()
        answer = self.once(host)
        self.assertEqual(('recorded', 'ok'),
                         (answer['status'], answer['run_status']), answer)

    def test_agent_down_fails_the_step_and_changes_nothing(self):
        self.controller()
        host = 'compute-5'
        answer = self.once(host)
        self.assertEqual('ok', answer.get('run_status'), answer)
        self.assertEqual({('leftover_device', tc.WWID[5]): 'confirmed'},
                         self.findings(host))
        # No agent serves compute-5's topic now: its step fails after the
        # call's timeout (short here), and nothing else is tried.
        short = os.path.join(self.test_tmp, 'short.conf')
        with open(short, 'w') as f:
            f.write('[DEFAULT]\nrpc_response_timeout = 2\n\n'
                    '[host_scan]\nlock_timeout = 1\n')
        applied = self.manage('--config-file', short, 'remediate', '--host',
                              host, '--apply', check=False)
        self.assertEqual(1, applied.returncode, applied.stdout)
        self.assertIn('-> failed: the agent of compute-5 did not answer: no '
                      'answer in time (MessagingTimeout)', applied.stdout)
        self.assertTrue(os.path.lexists(self.root(host).p('/sys/block/sdb')))
        [action] = self.history.actions(backend='host:' + host)
        self.assertEqual(('failed', True), (action.result, action.applied))
        self.assertEqual({('leftover_device', tc.WWID[5]): 'confirmed'},
                         self.findings(host))

    def test_silent_agent_makes_its_host_stale(self):
        self.controller()
        host = 'compute-4'
        conf = self.agent_conf(host)
        reporter = agent_service.reporter_mod.Reporter(
            conf, host_api.HostAPI(conf, self.transport()),
            self.root(host).runner)
        # An agent that scans every 3 s, then goes silent.
        body = dict(reporter.report(scans=[reporter.scanner.scan()]),
                    interval=3)
        del body['signature']
        answer = reporter.client.report(
            api.context(host_api.sender(host)), signing.sign(
                conf.host_scan.report_key, 'report', body, time.time()))
        self.assertEqual('ok', answer.get('run_status'), answer)
        metric = (b'cinder_reconciler_host_stale{backend="host:%s"} '
                  % host.encode())

        def scrape():
            return urllib.request.build_opener(
                urllib.request.ProxyHandler({})).open(
                    'http://127.0.0.1:%d/metrics' % self.metrics_port).read()

        self.assertIn(metric + b'0.0', scrape())
        # No scan for more than one interval: stale, and nothing recorded
        # of the host meanwhile.
        time.sleep(3.5)
        self.assertIn(metric + b'1.0', scrape())
        rows = json.loads(self.manage('runs', 'list', '--backend',
                                      'host:' + host, '--format',
                                      'json').stdout)
        self.assertEqual([True], [r['stale'] for r in rows])
        table = self.manage('runs', 'list').stdout
        self.assertIn('stale: host:%s: no scan since' % host, table)
        self.assertEqual(1, len(self.runs(host)))

    def test_report_claiming_another_host_is_refused(self):
        self.controller()
        client = host_api.HostAPI(self.agent_conf(HOSTS[0]),
                                  self.transport())
        before = self.history.runs(backend='host:' + HOSTS[1])
        mine = signing.host_key(AUTH_KEY, HOSTS[0])
        scan = {'version': '1.0', 'host': HOSTS[1], 'protocols': ['iscsi'],
                'scans': [], 'error': 'made up', 'interval': 10}
        cases = (
            # compute-1 says so, for compute-2.
            (HOSTS[0], mine, "about host 'compute-2', sent by "
                             "'cinder-reconciler-agent@compute-1'"),
            # compute-1 claims to be compute-2, with its own key.
            (HOSTS[1], mine, "about host 'compute-2': signature is not "
                             "compute-2's"),
            (HOSTS[1], None, "about host 'compute-2': unsigned"))
        for sender, key, why in cases:
            answer = client.report(api.context(host_api.sender(sender)),
                                   signing.sign(key, 'report', scan,
                                                time.time()))
            self.assertEqual({'status': 'refused', 'detail': why}, answer)
        self.assertEqual(before,
                         self.history.runs(backend='host:' + HOSTS[1]))
        self.assertIn("Refused from cinder-reconciler-agent@compute-1: "
                      "about host 'compute-2'", self.log())

    def test_cycles_list_what_changed_and_see_what_volumes_do_not_show(self):
        proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(proxy.stop)
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values = self.useFixture(config_fixture.Config(conf))
        # No margin: a volume attached in the previous cycle is not listed
        # again among the changes (this cloud is seconds old).
        values.load_raw_values(group='cinder', auth_type='admin_token',
                               endpoint=proxy.url, changes_margin='0',
                               token=cinder_sim.ADMIN_TOKEN)
        fleet = views.FleetView(conf)
        self.assertTrue(fleet.refresh().full)
        self.assertEqual([], fleet.own('compute-v'))

        def cycle():
            proxy.reset_stats()
            found = fleet.refresh()
            self.assertIsNotNone(found, fleet.error)
            self.assertFalse(found.full)
            # Never the attachments in detail: a summary, and what changed.
            self.assertEqual(0, proxy.stats('/v3/attachments/detail')
                             .requests)
            return found

        first = self.cloud.add_attachment(V['multi'], 'compute-v',
                                          iscsi('multi'))
        # The next cycle begins in a later second (cinder-api's Date header
        # tells when a listing began, to the second).
        time.sleep(1.1)
        cycle()
        [a] = fleet.own('compute-v')
        self.assertEqual((first, 'attached', 'in-use', 'compute-v'),
                         (a.attachment_id, a.attach_status, a.volume_status,
                          a.host))
        self.assertEqual(1, proxy.stats('/v3/attachments/%s' % first)
                         .requests)
        # Attached again, elsewhere (multiattach): Cinder keeps the volume's
        # updated_at, so only the attachments listing shows it; its host
        # comes from the volume, looked up.
        second = self.cloud.add_attachment(V['multi'], 'compute-w',
                                           iscsi('multi'), touch=False)
        cycle()
        self.assertEqual([second], [a.attachment_id
                                    for a in fleet.own('compute-w')])
        self.assertEqual(1, proxy.stats('/v3/volumes/%s' % V['multi'])
                         .requests)
        # Detached: gone, though the volume still shows it attached.
        self.cloud.remove_attachment(V['multi'], 'compute-v')
        cycle()
        self.assertEqual([], fleet.own('compute-v'))
        # The fresh view of a host: its own attachments, listed now.
        proxy.reset_stats()
        fresh = fleet.fresh('compute-w')
        self.assertEqual([second], [a.attachment_id for a in fresh.here()])
        # Its own attachments (a page, then the empty one that ends the
        # listing) and those being attached (none: an empty page).
        self.assertEqual(3, proxy.stats('/v3/attachments/detail').requests)
        self.assertNotIn(SECRET, repr(fresh) + repr(fleet.current))
