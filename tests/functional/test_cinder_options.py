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

"""``[cinder]`` options reach the requests to a real cinder-api.

The client is keystoneauth's conf-loaded adapter: each adapter option
(service_name, region_name, connect_retries, status_code_retries,
min_version) is shown to change what is requested, through the fault proxy
or a loopback Keystone whose catalog lists decoys. Requests and listings
are bounded in time (``timeout``, ``listing_timeout``).
"""

import http.server
import json
import shutil
import socket
import tempfile
import threading
import time

import fixtures
from keystoneauth1 import fixture as ks_fixture
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import testtools

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.inventory import cinder as inventory
from reconciler.simulators import cinder as cinder_sim
from reconciler.simulators import faultproxy
from reconciler.simulators import scenario as scn

BACKEND_HOST = 'hostA@be1'
VOLUMES = 7


def _scenario():
    return scn.Scenario(
        backends=[scn.Backend('be1', 'hostA')],
        volumes=[scn.Volume(scn.uid('v-%d' % i), 'be1')
                 for i in range(VOLUMES)],
        snapshots=[])


def _closed_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


class _Keystone(object):
    """A loopback Keystone v3 answering any password with one catalog."""

    def __init__(self, services):
        """``services``: (name, region, url) of block-storage endpoints."""
        token = ks_fixture.V3Token()
        for name, region, url in services:
            service = token.add_service('block-storage', name=name)
            service.add_endpoint('internal', url, region=region)
        self.body = json.dumps(token).encode()
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      self._handler())
        self.url = 'http://127.0.0.1:%d/v3' % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()

    def _handler(self):
        keystone = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body, headers=()):
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                discovery = ks_fixture.V3Discovery(keystone.url)
                self._send(200, json.dumps({'version': discovery}).encode())

            def do_POST(self):
                self.rfile.read(int(self.headers.get('Content-Length') or 0))
                self._send(201, keystone.body,
                           [('X-Subject-Token', 'admin:admin')])

        return Handler

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class CinderOptionsTest(testtools.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = tempfile.mkdtemp(prefix='cinder-options-')
        cls.cloud = cinder_sim.CinderCloud(cls.workdir, _scenario(),
                                           page_size=2)
        try:
            cls.cloud.start()
        except Exception:
            shutil.rmtree(cls.workdir)
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cloud.stop()
        shutil.rmtree(cls.workdir)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(60, gentle=True))
        self.proxy = faultproxy.FaultProxy(self.cloud.endpoint).start()
        self.addCleanup(self.proxy.stop)

    def inventory(self, **cinder):
        conf = cfg.ConfigOpts()
        values = self.useFixture(config_fixture.Config(conf))
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        cinder.setdefault('auth_type', 'admin_token')
        if cinder['auth_type'] == 'admin_token':
            cinder.setdefault('endpoint', self.proxy.url)
            cinder.setdefault('token', cinder_sim.ADMIN_TOKEN)
        values.load_raw_values(group='cinder', page_size='2',
                               **{k: str(v) for k, v in cinder.items()})
        return inventory.CinderInventory(conf)

    def view(self, **cinder):
        return self.inventory(**cinder).view(BACKEND_HOST)

    def assertListed(self, **cinder):
        self.assertEqual(VOLUMES, len(self.view(**cinder).volumes))

    def test_status_code_retries(self):
        self.proxy.fail(r'^/v3/volumes/detail', status=503, times=2)
        self.assertRaises(exception.CinderError, self.view)
        self.proxy.clear()
        rule = self.proxy.fail(r'^/v3/volumes/detail', status=503, times=2)
        self.assertListed(status_code_retries=2, status_code_retry_delay=0)
        self.assertEqual(2, rule.fired)

    def test_connect_retries(self):
        self.proxy.drop(r'^/v3/volumes/detail')
        self.assertRaises(exception.CinderError, self.view)
        self.proxy.clear()
        rule = self.proxy.drop(r'^/v3/volumes/detail')
        self.assertListed(connect_retries=1, connect_retry_delay=0)
        self.assertEqual(1, rule.fired)

    def keystone(self, *services):
        """``[cinder]`` password options for a Keystone with this catalog."""
        keystone = _Keystone(services)
        self.addCleanup(keystone.stop)
        return dict(auth_type='password', auth_url=keystone.url,
                    username='u', password='p', project_name='p',
                    user_domain_name='Default', project_domain_name='Default',
                    valid_interfaces='internal')

    def test_min_version(self):
        """Discovered from the catalog's endpoint; a token endpoint would
        skip discovery.
        """
        password = self.keystone(('cinderv3', 'RegionOne', self.proxy.url))
        self.assertListed(min_version='3.0', **password)
        self.proxy.reset_stats()
        e = self.assertRaises(exception.CinderError, self.view,
                              min_version='4.0', **password)
        self.assertIn('GET /volumes/detail', str(e))
        self.assertEqual(0, self.proxy.stats('/v3/volumes').requests)

    def test_service_name_and_region_name_pick_the_endpoint(self):
        dead = 'http://127.0.0.1:%d/v3' % _closed_port()
        password = self.keystone(('decoy', 'RegionOne', dead),
                                 ('cinderv3', 'RegionOne', self.proxy.url),
                                 ('cinderv3', 'RegionTwo', dead))
        self.proxy.reset_stats()
        self.assertListed(service_name='cinderv3', region_name='RegionOne',
                          **password)
        self.assertGreater(self.proxy.stats('/v3/volumes').requests, 0)
        for wrong in (dict(service_name='decoy', region_name='RegionOne'),
                      dict(service_name='cinderv3', region_name='RegionTwo')):
            self.proxy.reset_stats()
            self.assertRaises(exception.CinderError, self.view,
                              **dict(password, **wrong))
            self.assertEqual(0, self.proxy.stats('/v3/volumes').requests)

    def test_requests_time_out_by_default(self):
        self.assertEqual(60, self.inventory().client.session.timeout)

    def test_stalled_request_times_out(self):
        self.proxy.delay(r'^/v3/volumes/detail', 30)
        started = time.monotonic()
        e = self.assertRaises(exception.CinderError, self.view, timeout=1)
        self.assertLess(time.monotonic() - started, 5)
        self.assertIn('timed out', str(e))

    def test_whole_listing_has_a_deadline(self):
        # Each page answers within the request timeout, but four pages of
        # 1.5 s each outlast the listing's 3 s.
        self.proxy.delay(r'^/v3/volumes/detail', 1.5)
        started = time.monotonic()
        self.assertRaises(exception.CinderError, self.view,
                          listing_timeout=3)
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, 2.9)
        self.assertLess(elapsed, 5)
        # Point look-ups afterwards are not bound by a past deadline.
        self.proxy.clear()
        self.assertListed(listing_timeout=3)
