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

"""Nova's and Keystone's views: configuration, and answers that must fail.

The answers a real Nova and Keystone give are in
tests/functional/test_cloud_pass.py; here a server on 127.0.0.1 answers what
they should not (a cut list, a page twice, no list at all), and each must
fail the listing in one line.
"""

import http.server
import json
import os
import threading
import urllib.parse

import fixtures
from keystoneauth1.identity.generic import password
from oslo_config import cfg
from oslotest import base

from reconciler import conf as reconciler_conf
from reconciler import exception
from reconciler.inventory import api
from reconciler.inventory import keystone
from reconciler.inventory import nova


def _conf(*texts):
    """A ConfigOpts read from files with ``texts``, in order."""
    tmp = fixtures.TempDir()
    tmp.setUp()
    conf = cfg.ConfigOpts()
    reconciler_conf.register(conf)
    paths = []
    for i, text in enumerate(texts):
        paths.append(os.path.join(tmp.path, '%d.conf' % i))
        with open(paths[-1], 'w') as f:
            f.write(text)
    conf(sum((['--config-file', p] for p in paths), []), project='x',
         default_config_files=[], default_config_dirs=[])
    tmp.cleanUp()
    return conf


# Cinder's [nova] group as devstack writes it in cinder.conf.
CINDER_CONF = """
[nova]
auth_type = password
auth_url = http://keystone.example/identity
username = nova
password = secret
project_name = service
user_domain_name = Default
project_domain_name = Default
region_name = RegionTwo
interface = internal
token_auth_url = http://keystone.example/identity
"""


class ConfTest(base.BaseTestCase):

    def test_cinders_nova_group_is_used_as_it_is(self):
        adapter = api.load_adapter(_conf(CINDER_CONF, '[cloud]\n'), 'nova')
        self.assertEqual(('compute', 'internal', 'RegionTwo'),
                         (adapter.service_type, adapter.interface,
                          adapter.region_name))
        self.assertIsInstance(adapter.auth, password.Password)
        self.assertEqual('nova', adapter.auth._username)
        self.assertEqual(60, adapter.session.timeout)

    def test_keystone_takes_cinders_credentials_from_auth_section(self):
        conf = _conf('[cinder]\nauth_type = password\nauth_url = http://k/v3'
                     '\nusername = reconciler\npassword = p\n\n'
                     '[keystone]\nauth_section = cinder\n')
        adapter = api.load_adapter(conf, 'keystone')
        self.assertEqual('reconciler', adapter.auth._username)
        self.assertEqual(('identity', '3'), (adapter.service_type,
                                             adapter.version))

    def test_a_group_without_credentials_says_so(self):
        e = self.assertRaises(exception.ConfigError, api.load_adapter,
                              _conf(''), 'nova')
        self.assertEqual("[nova] has no auth_type: set its credentials (or "
                         "auth_section = cinder to use [cinder]'s)", str(e))

    def test_interface_and_valid_interfaces_together_are_refused(self):
        conf = _conf(CINDER_CONF, '[nova]\nvalid_interfaces = public\n')
        e = self.assertRaises(exception.ConfigError, api.load_adapter, conf,
                              'nova')
        self.assertIn('[nova] options:', str(e))
        self.assertNotIn('secret', str(e))


class _Answers(http.server.BaseHTTPRequestHandler):
    """Answers a test chose, by path (query included) or path prefix."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.asked.append(self.path)
        for prefix, answers in self.server.answers.items():
            if self.path.startswith(prefix):
                status, body = answers.pop(0) if len(answers) > 1 else (
                    answers[0])
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
        self.send_response(404)
        self.send_header('Content-Length', '0')
        self.end_headers()


class _ApiTest(base.BaseTestCase):

    PREFIX = ''

    def setUp(self):
        super().setUp()
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                                      _Answers)
        self.server.answers, self.server.asked = {}, []
        threading.Thread(target=self.server.serve_forever,
                         daemon=True).start()
        self.addCleanup(self.server.server_close)
        self.addCleanup(self.server.shutdown)
        self.conf = _conf('[nova]\nauth_type = admin_token\ntoken = t\n'
                          'endpoint = %s/v2.1\n\n[keystone]\nauth_type = '
                          'admin_token\ntoken = t\nendpoint = %s/v3\n'
                          'version = \n'
                          % ((self.url(),) * 2))

    def url(self):
        return 'http://127.0.0.1:%d' % self.server.server_address[1]

    def answer(self, path, *answers):
        self.server.answers[self.PREFIX + path] = list(answers)


def servers(*ids, more=False, url='http://x'):
    body = {'servers': [{'id': i, 'status': 'ACTIVE'} for i in ids]}
    if more:
        body['servers_links'] = [{'rel': 'next', 'href': url}]
    return 200, body


class NovaTest(_ApiTest):

    PREFIX = '/v2.1'

    def setUp(self):
        super().setUp()
        self.answer('/os-services', (200, {'services': [
            {'host': 'compute-1', 'binary': 'nova-compute'}]}))

    def listing(self):
        return nova.NovaInventory(self.conf).view()

    def test_pages_by_marker_and_the_microversion(self):
        self.conf.set_override('page_size', 2, group='nova')
        self.answer('/servers/detail?all_tenants=1&limit=2&marker=b',
                    servers('c'))
        self.answer('/servers/detail', servers('a', 'b', more=True))
        view = self.listing()
        self.assertEqual(['a', 'b', 'c'], sorted(view.servers))
        self.assertEqual(frozenset(['compute-1']), view.compute_hosts)

    def test_a_marker_gone_starts_the_listing_over(self):
        self.conf.set_override('page_size', 1, group='nova')
        self.answer('/servers/detail?all_tenants=1&limit=1&marker=a',
                    (400, {'badRequest': {'message': 'marker not found'}}),
                    servers())
        self.answer('/servers/detail', servers('a', more=True))
        self.assertEqual(['a'], sorted(self.listing().servers))
        self.assertEqual(4, sum(1 for p in self.server.asked
                                if '/servers/detail' in p))

    def test_answers_that_must_fail_the_listing(self):
        for answer, message in (
                ((200, {'server': []}), 'returned no servers list'),
                ((403, {}), 'HTTP 403 (the credentials lack the admin '
                            'role?)'),
                ((200, [1, 2]), 'body is not a JSON object'),
                ((200, {'servers': [{'status': 'ACTIVE'}]}),
                 'Nova listing malformed: KeyError')):
            self.answer('/servers/detail', answer)
            e = self.assertRaises(exception.NovaError, self.listing)
            self.assertIn(message, str(e))

    def test_a_page_listed_twice_fails(self):
        self.conf.set_override('page_size', 1, group='nova')
        self.answer('/servers/detail', servers('a', more=True))
        e = self.assertRaises(exception.NovaError, self.listing)
        self.assertIn('server a listed twice', str(e))

    def test_look_ups(self):
        inventory = nova.NovaInventory(self.conf)
        self.answer('/servers/gone/os-volume_attachments', (404, {}))
        self.assertIsNone(inventory.server('gone'))
        self.assertIsNone(inventory.volume_attachments('gone'))
        self.answer('/servers/s1/os-volume_attachments', (200, {
            'volumeAttachments': [{'volumeId': 'v1',
                                   'attachment_id': 'a1'}]}))
        self.assertEqual({'v1': 'a1'}, inventory.volume_attachments('s1'))
        self.answer('/servers/detail?' + urllib.parse.urlencode(dict(
            all_tenants=1, deleted='true', uuid='s9')),
            servers('s9'))
        self.assertTrue(inventory.deleted('s9'))


class KeystoneTest(_ApiTest):

    PREFIX = '/v3'

    def test_a_truncated_list_fails(self):
        self.answer('/projects', (200, {'projects': [{'id': 'p1'}],
                                        'truncated': True}))
        e = self.assertRaises(exception.KeystoneError,
                              keystone.KeystoneInventory(self.conf).view)
        self.assertIn('the list is truncated', str(e))

    def test_projects_and_look_up(self):
        self.answer('/projects/gone', (404, {}))
        self.answer('/projects', (200, {'projects': [{'id': 'p1'},
                                                     {'id': 'p2'}]}))
        inventory = keystone.KeystoneInventory(self.conf)
        self.assertEqual(frozenset(['p1', 'p2']), inventory.view().projects)
        self.assertFalse(inventory.project_exists('gone'))
