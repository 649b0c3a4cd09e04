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

"""Every rule, allowed and denied, for each of Keystone's personas
(what oslopolicy-checker does with a token's credentials), and the
generated sample kept in step with the defaults in code.
"""

import os
import subprocess
import sys

import fixtures
from oslotest import base

from reconciler.api import context
from reconciler.api import policies
from reconciler.api.policies import findings
from reconciler.api.policies import records
from reconciler.api import policy
import tests
from tests.unit.api import fixtures as api_fixtures

ADMINS = {'project_admin', 'system_admin'}
CLOUD_READERS = ADMINS | {'system_reader'}
P1_READERS = CLOUD_READERS | {'project_member', 'project_reader'}

#: rule -> the personas it admits, for a target of project p1.
MATRIX = {
    findings.GET_ALL: P1_READERS,
    findings.GET: P1_READERS,
    findings.ALL_PROJECTS: CLOUD_READERS,
    findings.IGNORE: ADMINS,
    findings.UNIGNORE: ADMINS,
    records.RUNS: CLOUD_READERS,
    records.ACTIONS: CLOUD_READERS,
    records.BACKENDS: CLOUD_READERS,
    records.HEALTH_DETAIL: ADMINS,
    records.PLAN: ADMINS,
    records.APPLY: ADMINS,
}


def _context(persona):
    environ = {'HTTP_' + k.upper().replace('-', '_'): v
               for k, v in api_fixtures.PERSONAS[persona].items()}
    return context.RequestContext.from_environ(environ)


class PolicyTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(api_fixtures.Api())

    def test_every_documented_rule_is_in_the_matrix(self):
        documented = {r.name for r in policies.list_rules()
                      if r.name.startswith('reconciler:')}
        self.assertEqual(set(MATRIX), documented)

    def test_each_rule_admits_exactly_its_personas(self):
        for rule, admitted in MATRIX.items():
            for persona in api_fixtures.PERSONAS:
                self.assertEqual(
                    persona in admitted,
                    policy.allowed(_context(persona), rule,
                                   {'project_id': 'p1'}),
                    '%s for %s' % (rule, persona))

    def test_a_project_reader_reads_only_its_own_project(self):
        reader = _context('project_reader')
        self.assertFalse(policy.allowed(reader, findings.GET,
                                        {'project_id': 'p2'}))
        self.assertFalse(policy.allowed(reader, findings.GET,
                                        {'project_id': None}))

    def test_a_domain_scoped_token_is_refused(self):
        domain = context.RequestContext(roles=['admin', 'reader'],
                                        domain_id='default')
        for rule in MATRIX:
            self.assertFalse(policy.allowed(domain, rule,
                                            {'project_id': None}), rule)

    def test_an_operator_policy_file_overrides_a_default(self):
        path = os.path.join(self.useFixture(fixtures.TempDir()).path,
                            'policy.yaml')
        with open(path, 'w') as f:
            f.write('"reconciler:run:get_all": "rule:project_reader"\n')
        self.useFixture(api_fixtures.Api()).config.config(
            group='oslo_policy', policy_file=path)
        self.assertTrue(policy.allowed(_context('project_reader'),
                                       records.RUNS, {'project_id': 'p1'}))
        self.assertFalse(policy.allowed(_context('system_reader'),
                                        records.RUNS, {'project_id': None}))


class SampleTest(base.BaseTestCase):

    def test_the_committed_sample_is_what_the_generator_writes(self):
        out = os.path.join(self.useFixture(fixtures.TempDir()).path,
                           'policy.yaml')
        subprocess.run(
            [os.path.join(os.path.dirname(sys.executable),
                          'oslopolicy-sample-generator'),
             '--config-file', os.path.join(
                 'etc', 'cinder-reconciler',
                 'cinder-reconciler-policy-generator.conf'),
             '--output-file', out], cwd=tests.ROOT, check=True,
            capture_output=True)
        with open(out) as generated, open(os.path.join(
                tests.ROOT, 'etc', 'cinder-reconciler',
                'policy.yaml.sample')) as committed:
            self.assertEqual(generated.read(), committed.read(),
                             'run tox -e genpolicy')
