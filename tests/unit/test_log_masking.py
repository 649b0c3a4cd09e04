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

"""No credential reaches a log line, on every driver's failure paths.

Logs are captured as the daemon writes them: a root handler with oslo.log's
ContextFormatter (which appends the exception being handled to warnings and
errors), guarded by ``log_masking.install()`` as ``conf.prepare`` does.
"""

import http.server
import io
import logging
import threading

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
from oslo_log import formatters
from oslo_log import log as oslo_log
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler.conf import backend as backend_conf
from reconciler import exception
from reconciler.inventory import cinder as inventory
from reconciler import log_masking
from reconciler.simulators import hpe3par as sim_3par
from reconciler.simulators import lefthand as sim_lefthand
from reconciler.simulators import nec
from reconciler.simulators.scenario import uid
from tests import nec_fixtures
from tests.unit.drivers import test_hpe3par
from tests.unit.drivers import test_lefthand
from tests.unit.drivers import test_nec


class ProductionLogs(fixtures.Fixture):
    """Everything logged at DEBUG, formatted as the daemon formats it."""

    def _setUp(self):
        conf = cfg.ConfigOpts()
        oslo_log.register_options(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        self.stream = io.StringIO()
        handler = logging.StreamHandler(self.stream)
        handler.setFormatter(formatters.ContextFormatter(config=conf))
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        self.addCleanup(root.setLevel, level)
        self.addCleanup(root.removeHandler, handler)
        log_masking.install()

    @property
    def output(self):
        return self.stream.getvalue()


class MaskTest(base.BaseTestCase):

    def test_record_text_traceback_and_formatter_additions(self):
        logs = self.useFixture(ProductionLogs())
        log = logging.getLogger('reconciler.test')
        url = 'http://a/api/v1/credentials/0-5ecret-key-1'
        try:
            raise ConnectionError('Max retries exceeded with url: %s' % url)
        except ConnectionError as e:
            log.error('Error during unauthenticate: %s', e)
            log.warning('logout failed')          # oslo appends the error
            log.exception('with a traceback')
        log.debug('headers %s', {'X-Auth-Token': 'tok-5ecret',
                                 'password': 'pa55-5ecret'})
        for secret in ('0-5ecret-key-1', 'tok-5ecret', 'pa55-5ecret'):
            self.assertNotIn(secret, logs.output)
        self.assertIn('/api/v1/credentials/***', logs.output)
        self.assertIn('Traceback', logs.output)


class HPE3PARLogTest(test_hpe3par.HPE3PARTestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(ProductionLogs())

    def assertNoSecret(self):
        self.assertTrue(self.sim.issued)
        for secret in self.sim.issued + [test_hpe3par.PASSWORD]:
            self.assertNotIn(secret, self.logs.output)
            self.assertNotIn(secret, self.logger.output)

    def test_logout_connection_error(self):
        # The array went away before the logout: the client's error and
        # the exception both hold .../credentials/<key>.
        self.start()
        driver = self.driver()
        driver.open()
        driver.list_objects()
        self.sim.stop()
        driver.close()
        self.assertIn('logout failed', self.logs.output)
        self.assertIn('/credentials/***', self.logs.output)
        self.assertNoSecret()

    def test_listing_failures(self):
        self.start()
        for fault in (sim_3par.Fault('GET /vluns', 'drop'),
                      sim_3par.Fault('GET /hosts', status=500)):
            self.sim.faults[:] = [fault]
            self.assertRaises(exception.ArrayError, self.listing)
        self.assertRaises(exception.ArrayAuthError, self.listing,
                          hpe3par_password='Wr0ng-' + test_hpe3par.PASSWORD)
        self.assertNoSecret()


class LeftHandLogTest(test_lefthand.LeftHandTestCase):

    def setUp(self):
        super().setUp()
        self.logs = self.useFixture(ProductionLogs())

    def test_failures(self):
        Fault = sim_lefthand.Fault
        for fault in (Fault('drop', r'DELETE /lhos/credentials'),
                      Fault('drop', r'GET /lhos/servers'),
                      Fault('expire', r'GET /lhos/volumes/', after=1,
                            lock_out=True)):
            self.sim.faults[:] = [fault]
            try:
                self.listing()
            except exception.ArrayError:
                pass
            self.sim.locked_out = False
        self.assertRaises(exception.ArrayAuthError, self.listing,
                          hpelefthand_password='Wr0ng-Passw0rd')
        self.assertTrue(self.sim.issued)
        for secret in self.sim.issued + [test_lefthand.PASSWORD,
                                         'Wr0ng-Passw0rd']:
            self.assertNotIn(secret, self.logs.output)


class NECLogTest(test_nec.NecTestCase):

    def test_failures(self):
        logs = self.useFixture(ProductionLogs())
        self.array.add_ld(test_nec.NAMES.volume(uid('vol')), 0)
        wrong = 'Wr0ng-' + nec_fixtures.PASSWORD
        self.assertRaises(exception.ArrayAuthError, self.listing,
                          nec_ismcli_password=wrong)
        for fault in (nec.Fault.DROP, nec.Fault.EXIT):
            self.simulator.inject(fault)
            self.assertRaises(exception.ArrayError, self.listing)
        self.simulator.stop()
        self.assertRaises(exception.ArrayUnreachable, self.listing)
        for secret in (nec_fixtures.PASSWORD, wrong):
            self.assertNotIn(secret, logs.output)


class _EchoingCinder(http.server.BaseHTTPRequestHandler):
    """A broken proxy: answers 500 with the request's headers in the body."""

    def do_GET(self):
        body = ('{"computeFault": {"code": 500, "message": "upstream said '
                'no to X-Auth-Token: %s"}}'
                % self.headers.get('X-Auth-Token')).encode()
        self.send_response(500)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class ManageableLogTest(base.BaseTestCase):

    def test_cinder_failure(self):
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                 _EchoingCinder)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        logs = self.useFixture(ProductionLogs())
        conf = cfg.ConfigOpts()
        reconciler_conf.register(conf)
        conf([], project='x', default_config_files=[],
             default_config_dirs=[])
        values = self.useFixture(config_fixture.Config(conf))
        values.load_raw_values(
            group='cinder', auth_type='admin_token', token='admin:T0k-5ecret',
            endpoint='http://127.0.0.1:%d/v3' % server.server_port)
        values.load_raw_values(group='any1', reconciler_driver='manageable')
        driver = backend_conf.BackendConf(conf, 'any1').create_driver()
        driver.inventory = inventory.CinderInventory(conf)
        error = self.assertRaises(exception.CinderError, driver.list_objects)
        self.assertIn('HTTP 500', str(error))
        self.assertNotIn('T0k-5ecret', str(error))
        self.assertIn('manageable_volumes', logs.output)
        self.assertNotIn('T0k-5ecret', logs.output)
