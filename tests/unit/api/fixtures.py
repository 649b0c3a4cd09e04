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

"""The v1 application in-process, with the identity keystonemiddleware
would set, on a History seeded by real passes.
"""

import fixtures
from oslo_config import cfg
from oslo_config import fixture as config_fixture
import webob

from reconciler.api import deploy
from reconciler.api import policy
from reconciler.api import router
from reconciler import conf as reconciler_conf
from reconciler.history import api as history_api
from reconciler import model
from reconciler.rpc import api as rpc_api
from tests.unit.history import fixtures as history_fixtures

T0 = 1_700_000_000.0

#: Keystone's personas as auth_token's headers tell them (roles implied).
PERSONAS = {
    'project_admin': {'X-Roles': 'admin,member,reader',
                      'X-Project-Id': 'p-admin'},
    'project_member': {'X-Roles': 'member,reader', 'X-Project-Id': 'p1'},
    'project_reader': {'X-Roles': 'reader', 'X-Project-Id': 'p1'},
    'other_reader': {'X-Roles': 'reader', 'X-Project-Id': 'p2'},
    'no_role': {'X-Roles': '', 'X-Project-Id': 'p1'},
    'system_admin': {'X-Roles': 'admin,member,reader',
                     'OpenStack-System-Scope': 'all'},
    'system_reader': {'X-Roles': 'reader',
                      'OpenStack-System-Scope': 'all'},
}


class Api(fixtures.Fixture):
    """``self.request(persona, method, path, body)`` on the v1 app."""

    def _setUp(self):
        self.config = self.useFixture(config_fixture.Config(cfg.CONF))
        reconciler_conf.register_api(cfg.CONF)
        rpc_api.configured(cfg.CONF)    # oslo.messaging's options
        cfg.CONF([], project='cinder-reconciler', default_config_files=[],
                 default_config_dirs=[])
        policy.reset()
        self.addCleanup(policy.reset)
        self.history = self.useFixture(history_fixtures.History()).history
        app = router.Router(deploy.V1_ROUTES, self.history)
        for wrap in (deploy.microversion_filter, deploy.faultwrap_filter,
                     deploy.context_filter):
            app = wrap(None)(app)
        self.app = app

    def request(self, persona, path, method='GET', body=None, **headers):
        identity = dict(PERSONAS[persona], **{
            'X-User-Id': 'u-' + persona, 'X-User-Name': persona,
            'X-Identity-Status': 'Confirmed'}, **headers)
        req = webob.Request.blank(path, method=method, headers=identity)
        if body is not None:
            req.content_type = 'application/json'
            req.json_body = body
        return req.get_response(self.app)

    def seed(self, count=3):
        """``count`` confirmed array-only findings of projects p1, p2 and
        none in turn on backend be1, and one of host compute-1.
        """
        projects = ['p1', 'p2', None]
        cands = [history_fixtures.candidate(
            'u%02d' % i, project_id=projects[i % 3],
            details=(('size', i),)) for i in range(count)]
        for backend, found in (('be1', cands), ('host:compute-1', [
                history_fixtures.candidate(
                    'd1', kind=model.FindingKind.LEFTOVER_DEVICE,
                    resource_type=model.ResourceType.DEVICE,
                    project_id='p1')])):
            run = self.history.start_run(backend, 'h', T0)
            self.history.complete_run(run, T0 + 1, found,
                                      history_api.LifecyclePolicy(1, 0), {},
                                      history_fixtures.no_events)
        return self.history.findings()
