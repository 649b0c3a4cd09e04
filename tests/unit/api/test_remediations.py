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

"""POST /v1/remediations: the API asks a controller, over RPC (the
in-memory driver here), and the controller plans as the CLI does, audited
with the caller's token.
"""

import os
import threading

import fixtures
from oslo_config import fixture as config_fixture
from oslotest import base

from reconciler.api.handlers import remediations
from reconciler import coordination
from reconciler.rpc import api as rpc_api
from reconciler.rpc import controller
from tests.unit.api import fixtures as api_fixtures
from tests.unit.rpc import test_api as rpc_fixtures

V11 = {'OpenStack-API-Version': 'reconciler 1.1'}


class RemediationTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.api = self.useFixture(api_fixtures.Api())
        self.findings = self.api.seed(3)
        tmp = self.useFixture(fixtures.TempDir()).path
        array = os.path.join(tmp, 'array.yaml')
        with open(array, 'w') as f:
            f.write('volumes: []\n')
        self.api.config.config(transport_url='fake:/')
        daemon = rpc_fixtures.conf_with(self)
        values = self.useFixture(config_fixture.Config(daemon))
        values.load_raw_values(enabled_backends='be1')
        values.load_raw_values(group='be1', reconciler_driver='fake',
                               fake_array_file=array,
                               reconciler_remediation_min_age='0')
        transport = rpc_api.get_transport(daemon)
        self.addCleanup(transport.cleanup)
        coordinator = coordination.Coordinator(daemon, member=False)
        self.addCleanup(coordinator.stop)
        server = controller.server(controller.Services(
            daemon, self.api.history, None, coordinator, threading.Event(),
            transport))
        server.start()
        self.addCleanup(server.stop)
        self.assertTrue(server.started.wait(10))
        # The API's transport is the controller's: the in-memory driver
        # connects nothing else.
        self.useFixture(fixtures.MockPatchObject(remediations, '_transport',
                                                 transport))

    def post(self, persona, body, **headers):
        return self.api.request(persona, '/remediations', 'POST', body,
                                **dict(V11, **headers))

    def test_a_plan_is_audited_with_the_token_user(self):
        response = self.post('system_admin', {'backend': 'be1'})
        self.assertEqual(200, response.status_int, response.body)
        outcome = response.json_body['remediation']
        self.assertEqual(('be1', False, None),
                         (outcome['backend'], outcome['applied'],
                          outcome['error']))
        planned = [s for s in outcome['steps'] if s['result'] == 'planned']
        self.assertTrue(planned, outcome)
        actions = self.api.history.actions(backend='be1')
        self.assertEqual(len(planned), len(actions))
        for action in actions:
            self.assertEqual((False, 'planned'),
                             (action.applied, action.result))
            self.assertTrue(action.actor.startswith(
                'system_admin (u-system_admin), project None (system '
                'scope), cinder-reconciler-api req-'), action.actor)

    def test_admins_only(self):
        for persona in ('project_member', 'system_reader'):
            for apply in (False, True):
                self.assertEqual(403, self.post(
                    persona, {'backend': 'be1', 'apply': apply}).status_int)

    def test_the_controller_refuses_an_unknown_backend(self):
        response = self.post('project_admin', {'backend': 'be9'})
        self.assertEqual(409, response.status_int)
        self.assertIn('backend be9 is not reconciled',
                      response.json_body['errors'][0]['detail'])

    def test_bad_bodies(self):
        for body in ({}, {'backend': 'be1', 'kinds': ['nope']},
                     {'backend': 'be1', 'finding_ids': ['1']},
                     {'backend': 'be1', 'limit': 0},
                     {'backend': 'be1', 'apply': 'yes'},
                     {'backend': 'be1', 'delete_data': True}):
            self.assertEqual(400, self.post('project_admin', body).status_int,
                             body)

    def test_only_from_microversion_1_1(self):
        self.assertEqual(404, self.post(
            'project_admin', {'backend': 'be1'},
            **{'OpenStack-API-Version': 'reconciler 1.0'}).status_int)
