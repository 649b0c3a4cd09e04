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

"""cinder-reconciler-api under uWSGI against a real Keystone on 127.0.0.1:
every policy rule allowed and denied with real tokens, marker pages, the
``openstack orphan`` plugin in a subprocess, the audit of an operator's
ignore, and /healthcheck while the history database is down.

One Keystone and one API serve the whole class (their set-up is the slow
part); each test reads the history the class seeded, or adds to it.
"""

import json
import os
import signal
import subprocess
import sys
import time

import fixtures
from oslo_config import cfg
from oslotest import base
import requests
import yaml

from reconciler import conf as reconciler_conf
from reconciler import history
from reconciler.history import api as history_api
from reconciler import model
from reconciler.rpc import api as rpc_api
from reconciler.rpc import controller as rpc_controller
from reconciler.simulators import keystone as keystone_sim
from reconciler.simulators import ports
from tests.functional import fixtures as local_fixtures
from tests.functional import test_remediation
from tests import servers

PASSWORD = 'user-pw'
T0 = 1_700_000_000.0
FINDINGS = 22          # array-only findings on be1 (plus one host finding)
MAX_LIMIT = 10         # the API's [api] max_limit


class ApiTest(base.BaseTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = fixtures.TempDir()
        cls.tmp.setUp()
        cls.addClassCleanup(cls.tmp.cleanUp)
        try:
            keystone_sim.keystone_venv()
        except keystone_sim.KeystoneError as e:
            servers.unavailable(str(e))
        ks = cls.keystone = keystone_sim.Keystone(
            os.path.join(cls.tmp.path, 'keystone'))
        cls.addClassCleanup(ks.stop)
        ks.start()
        demo, other = ks.create_project('demo'), ks.create_project('other')
        cls.projects = {'demo': demo, 'other': other}
        ks.create('/roles', 'role', {'name': 'observer'})
        for name, project, role in (
                ('demo-member', demo, 'member'),
                ('demo-reader', demo, 'reader'),
                ('demo-observer', demo, 'observer'),
                ('other-reader', other, 'reader')):
            ks.create_user(name, PASSWORD, project_roles=[(project, role)])
        ks.create_user('oncall', PASSWORD, system_roles=['reader'])
        cls.database = 'sqlite:///%s/history.sqlite' % cls.tmp.path
        cls.store = history.History(cls.database)
        cls.store.sync()
        cls._seed()
        api = cls.api = keystone_sim.ReconcilerApi(
            os.path.join(cls.tmp.path, 'api'), ks, cls.database,
            max_limit=MAX_LIMIT)
        cls.addClassCleanup(api.stop)
        api.start()
        ks.register('block-storage-reconciliation', 'cinder-reconciler',
                    api.url)
        cls.sessions = {
            'admin': ks.session('admin', keystone_sim.ADMIN_PASSWORD,
                                'admin'),
            'system-admin': ks.session(
                'admin', keystone_sim.ADMIN_PASSWORD, system=True),
            'oncall': ks.session('oncall', PASSWORD, system=True),
            'demo-member': ks.session('demo-member', PASSWORD, 'demo'),
            'demo-reader': ks.session('demo-reader', PASSWORD, 'demo'),
            'demo-observer': ks.session('demo-observer', PASSWORD, 'demo'),
            'other-reader': ks.session('other-reader', PASSWORD, 'other'),
        }

    @classmethod
    def _seed(cls):
        """be1: FINDINGS array-only volumes of demo, other and no known
        project in turn, confirmed; host:compute-1: one leftover device.
        """
        owners = [cls.projects['demo'], cls.projects['other'], None]
        policy = history_api.LifecyclePolicy(1, 0)
        for backend, cands in (
                ('be1', [model.Candidate(
                    model.FindingKind.ARRAY_ONLY, model.ResourceType.VOLUME,
                    'vol-%02d' % i, array_name='volume-vol-%02d' % i,
                    project_id=owners[i % 3],
                    details=(('error', 'GET /credentials/k3y-%d' % i),))
                    for i in range(FINDINGS)]),
                ('host:compute-1', [model.Candidate(
                    model.FindingKind.LEFTOVER_DEVICE,
                    model.ResourceType.DEVICE, 'wwid-1',
                    project_id=cls.projects['demo'])])):
            run = cls.store.start_run(backend, 'controller', T0)
            cls.store.complete_run(run, T0 + 1, cands, policy, {},
                                   lambda transitions: [])
        cls.by_resource = {f.resource_id: f for f in cls.store.findings()}

    def start_api(self, database, **kwargs):
        """Another API on the class's Keystone (its service user exists)."""
        api = keystone_sim.ReconcilerApi(
            self.useFixture(fixtures.TempDir()).path, self.keystone,
            database, service_user=False, **kwargs)
        self.addCleanup(api.stop)
        api.start()
        return api

    def call(self, who, method, path, **kwargs):
        return self.sessions[who].request(self.api.url + path, method,
                                          raise_exc=False, **kwargs)

    def test_each_rule_allowed_and_denied(self):
        demo = self.by_resource['vol-00'].id
        admins = {'admin': 'ok', 'system-admin': 'ok'}
        cloud = dict(admins, oncall='ok')
        demo_readers = dict(cloud, **{'demo-member': 'ok',
                                      'demo-reader': 'ok'})
        # (rule, method, path, body, {persona: 'ok'}, status if denied
        # for a persona not listed: another project's reader sees 404
        # where a finding of demo is named).
        cases = [
            ('finding:get_all', 'GET', '/v1/findings', None,
             dict(demo_readers, **{'other-reader': 'ok'})),
            ('finding:all_projects', 'GET', '/v1/findings?backend=be1',
             None, cloud),
            ('finding:get', 'GET', '/v1/findings/%d' % demo, None,
             demo_readers),
            ('finding:ignore', 'PUT', '/v1/findings/%d/ignore' % demo,
             {'reason': 'policy test'}, admins),
            ('finding:unignore', 'DELETE', '/v1/findings/%d/ignore' % demo,
             None, admins),
            ('run:get_all', 'GET', '/v1/runs', None, cloud),
            ('action:get_all', 'GET', '/v1/actions', None, cloud),
            ('backend:get_all', 'GET', '/v1/backends', None, cloud),
            ('healthcheck:detail', 'GET', '/healthcheck/detail', None,
             admins),
        ]
        outcomes = {}
        for rule, method, path, body, allowed in cases:
            for who in self.sessions:
                response = self.call(who, method, path, json=body)
                outcomes[rule, who] = response.status_code
        expected = {}
        for rule, method, path, body, allowed in cases:
            for who in self.sessions:
                if who in allowed:
                    expected[rule, who] = 204 if method == 'DELETE' else 200
                elif who == 'other-reader' and '/findings/' in path:
                    expected[rule, who] = 404   # not told it exists
                else:
                    expected[rule, who] = 403
        self.assertEqual(expected, outcomes)

    def test_without_a_token(self):
        self.assertEqual(401, requests.get(self.api.url + '/v1/findings',
                                           timeout=30).status_code)
        versions = requests.get(self.api.url + '/', timeout=30).json()
        self.assertEqual(['v1.0'], [v['id'] for v in versions['versions']])
        self.assertEqual(200, requests.get(self.api.url + '/healthcheck',
                                           timeout=30).status_code)

    def test_marker_pages_and_the_page_limit(self):
        seen, path, pages = [], '/v1/findings?backend=be1&limit=4', 0
        while path:
            body = self.call('oncall', 'GET', path).json()
            seen += [f['resource_id'] for f in body['findings']]
            pages += 1
            links = body.get('findings_links')
            path = links and links[0]['href'][len(self.api.url):]
        self.assertEqual(['vol-%02d' % i for i in range(FINDINGS)], seen)
        self.assertEqual(6, pages)
        # No limit, or more than [api] max_limit: max_limit a page.
        body = self.call('oncall', 'GET', '/v1/findings?limit=1000').json()
        self.assertEqual(MAX_LIMIT, len(body['findings']))
        self.assertIn('marker=%d' % body['findings'][-1]['id'],
                      body['findings_links'][0]['href'])
        # Secrets an array echoed into the evidence stay masked.
        self.assertNotIn('k3y', json.dumps(body))

    def test_a_project_reader_sees_its_project_only(self):
        body = self.call('demo-reader', 'GET', '/v1/findings').json()
        mine = [f['resource_id'] for f in body['findings']]
        self.assertEqual(['vol-%02d' % i for i in range(0, FINDINGS, 3)]
                         + ['wwid-1'], mine)
        self.assertNotIn('backend', body['findings'][0])
        self.assertNotIn('details', body['findings'][0])

    def test_ignore_is_audited_with_the_token_user(self):
        finding = self.by_resource['vol-05'].id
        response = self.call('admin', 'PUT', '/v1/findings/%d/ignore'
                             % finding, json={'reason': 'DR copy',
                                              'until': '2031-01-01T00:00'})
        self.assertEqual(200, response.status_code, response.text)
        [action] = self.call('oncall', 'GET', '/v1/actions?finding_id=%d'
                             % finding).json()['actions']
        admin_id = self.sessions['admin'].get_user_id()
        self.assertEqual('ignore', action['action'])
        self.assertTrue(action['actor'].startswith(
            'admin (%s), project admin' % admin_id), action['actor'])
        self.assertEqual('DR copy', self.store.finding(finding).ignored_reason)

    def openstack(self, who, *args, check=True):
        """``openstack <args>`` as ``who`` (a user of demo, or the admin)."""
        env = (self.keystone.openstack_env() if who == 'admin' else
               self.keystone.openstack_env(who, PASSWORD, 'demo'))
        result = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), 'openstack')]
            + list(args), env=env, capture_output=True, text=True,
            timeout=120)
        if check:
            self.assertEqual(0, result.returncode, result.stderr)
        return result

    def test_the_openstack_plugin(self):
        # One page, sorted by the server, as JSON, found in the catalog.
        rows = json.loads(self.openstack(
            'admin', 'orphan', 'list', '--backend', 'be1', '--state',
            'confirmed', '--sort', 'resource_id:desc', '--limit', '3',
            '--marker', str(self.by_resource['vol-20'].id),
            '-f', 'json').stdout)
        self.assertEqual(['vol-19', 'vol-18', 'vol-17'],
                         [r['Resource ID'] for r in rows])
        # Every page (more than [api] max_limit), as CSV, one column,
        # sorted by cliff.
        out = self.openstack('admin', 'orphan', 'list', '-f', 'csv',
                             '-c', 'Resource ID', '--sort-column',
                             'Resource ID', '--sort-descending').stdout
        self.assertEqual(['"Resource ID"', '"wwid-1"'] + [
            '"vol-%02d"' % i for i in range(FINDINGS - 1, -1, -1)],
            out.splitlines())
        finding = self.by_resource['vol-07'].id
        shown = json.loads(self.openstack(
            'admin', 'orphan', 'ignore', str(finding), '--reason', 'kept',
            '-f', 'json').stdout)
        self.assertEqual(('kept', 'vol-07'),
                         (shown['ignored'], shown['resource_id']))
        story = yaml.safe_load(self.openstack(
            'admin', 'orphan', 'show', str(finding), '-f', 'yaml').stdout)
        self.assertEqual((['suspected', 'confirmed'], 'kept'),
                         ([t['state'] for t in story['transitions']],
                          story['ignored']))
        denied = self.openstack('demo-member', 'orphan', 'ignore',
                                str(self.by_resource['vol-06'].id),
                                '--reason', 'x', check=False)
        self.assertEqual(1, denied.returncode)
        self.assertIn('HTTP 403', denied.stderr)

    def test_healthcheck_when_the_database_is_down(self):
        """A second API, its history on PostgreSQL, stopped mid-way."""
        postgres = self.useFixture(servers.PostgreSQL())
        history.History(postgres.url).sync()
        api = self.start_api(postgres.url)
        self.assertEqual(200, requests.get(api.url + '/healthcheck',
                                           timeout=30).status_code)
        # Fast shutdown: a smart one waits for the API's pooled sessions.
        postgres.process.send_signal(signal.SIGINT)
        postgres.process.wait(60)
        response = requests.get(api.url + '/healthcheck', timeout=30)
        self.assertEqual((503, 'history database unavailable'),
                         (response.status_code, response.text.strip()))
        admin, oncall = self.sessions['admin'], self.sessions['oncall']
        self.assertEqual(403, oncall.get(api.url + '/healthcheck/detail',
                                         raise_exc=False).status_code)
        detail = admin.get(api.url + '/healthcheck/detail', raise_exc=False)
        self.assertEqual(503, detail.status_code)
        [reason] = detail.json()['reasons']
        self.assertIn('history database error', reason['details'])
        self.assertNotIn(postgres.url, json.dumps(detail.json()))
        # The API itself says the database is unavailable, in one line.
        findings = admin.get(api.url + '/v1/findings', raise_exc=False)
        self.assertEqual(503, findings.status_code)
        self.assertEqual('The history database is unavailable.',
                         findings.json()['errors'][0]['detail'])

    def test_an_apply_through_the_api_is_audited_with_the_token_user(self):
        """A real controller (the daemon, with its RPC server on RabbitMQ)
        removes the demo's orphan export because the API asked it to.
        """
        broker = servers.shared(servers.RabbitMQ)
        demo = self.useFixture(local_fixtures.DemoCloud(
            test_remediation.CONF.replace(
                'host = demo-host\n',
                'host = demo-host\ntransport_url = {broker}\n'),
            broker=broker.url))
        demo.manage('db', 'sync')
        demo.manage('check')
        demo.manage('check')   # sightings = 2: all confirmed
        log = open(os.path.join(demo.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(demo.command('reconciler'), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(daemon.wait, 60)
        self.addCleanup(daemon.terminate)
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf(['--config-file', demo.conf_path], project='x',
             default_config_files=[], default_config_dirs=[])
        transport = rpc_api.get_transport(conf)
        self.addCleanup(transport.cleanup)
        # Once the daemon's RPC server is up (a call sent before its
        # queue exists is lost: each ping waits a little).
        ping = rpc_controller.client(conf, transport, timeout=3).ping
        deadline = time.monotonic() + 120
        while True:
            try:
                ping(rpc_api.context('test'))
                break
            except rpc_api.ERRORS:
                self.assertIsNone(daemon.poll(), 'the daemon exited')
                self.assertLess(time.monotonic(), deadline)
        api = self.start_api('sqlite:///%s/r.sqlite' % demo.tmp,
                             transport_url=broker.url)
        response = self.sessions['admin'].post(
            api.url + '/v1/remediations', raise_exc=False,
            headers={'OpenStack-API-Version': 'reconciler 1.1'},
            json={'backend': 'fake1', 'kinds': ['orphan_export'],
                  'apply': True})
        self.assertEqual(200, response.status_code, response.text)
        outcome = response.json()['remediation']
        self.assertEqual([('unexport', test_remediation.EXPORT, 'done')],
                         [(s['action'], s['resource_id'], s['result'])
                          for s in outcome['steps']], outcome)
        with open(demo.array) as f:
            self.assertNotIn(test_remediation.EXPORT, [
                '%(volume)s@%(host)s' % e
                for e in yaml.safe_load(f)['exports']])
        # The CLI shows the same audit.
        [action] = json.loads(demo.manage('actions', 'list', '--format',
                                          'json').stdout)
        admin_id = self.sessions['admin'].get_user_id()
        self.assertEqual((True, 'done'), (action['applied'],
                                          action['result']))
        self.assertTrue(action['actor'].startswith(
            'admin (%s), project admin' % admin_id), action['actor'])
        # A member may not even plan.
        self.assertEqual(403, self.sessions['demo-member'].post(
            api.url + '/v1/remediations', raise_exc=False,
            headers={'OpenStack-API-Version': 'reconciler 1.1'},
            json={'backend': 'fake1'}).status_code)


class DevServerTest(base.BaseTestCase):
    """``cinder-reconciler-api`` (the development server), without
    Keystone: ``[api] auth_strategy = noauth`` makes every caller an admin.
    """

    def test_serves_the_pipeline(self):
        tmp = self.useFixture(fixtures.TempDir()).path
        database = 'sqlite:///%s/history.sqlite' % tmp
        history.History(database).sync()
        port = ports.free_port()
        conf = os.path.join(tmp, 'api.conf')
        with open(conf, 'w') as f:
            f.write('[api]\nauth_strategy = noauth\nbind_port = %d\n'
                    'api_paste_config = %s\n[reconciler_database]\n'
                    'connection = %s\n' % (port, keystone_sim.PASTE,
                                           database))
        server = subprocess.Popen(
            [sys.executable, '-c', 'import sys; from reconciler.cmd.api '
             'import main; sys.exit(main())', '--config-file', conf],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(server.wait, 30)
        self.addCleanup(server.terminate)
        url = 'http://127.0.0.1:%d' % port
        deadline = time.monotonic() + 60
        while True:
            try:
                response = requests.get(url + '/v1/findings', timeout=5)
                break
            except requests.ConnectionError:
                self.assertIsNone(server.poll())
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.2)
        self.assertEqual((200, {'findings': []}),
                         (response.status_code, response.json()))
        self.assertEqual('reconciler 1.0',
                         response.headers['OpenStack-API-Version'])
        self.assertEqual(200, requests.get(url + '/healthcheck/detail',
                                           timeout=30).status_code)
