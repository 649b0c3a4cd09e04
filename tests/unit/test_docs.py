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

"""The operator docs say what the code does.

The docs include ``reconciler/notifier.py``'s docstring (autodoc), so the
docstring must list exactly the keys the notifier sends; the API reference
names every route; the troubleshooting page quotes messages the code says.
"""

import ast
import os
import pathlib
import re

from oslotest import base

from reconciler.history import api as history_api
from reconciler import model
from reconciler import notifier
import tests

DOC = os.path.join(tests.ROOT, 'doc', 'source', 'admin', 'notifications.rst')


def documented(block, after=''):
    """Quoted names in ``block`` (followed by ``after``: keys, not values)."""
    return set(re.findall(r'"(\w+)"' + after, block))


class PayloadReferenceTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        doc = notifier.__doc__
        self.finding_doc = doc.split('Payload (version')[1].split(
            notifier.RUN_FAILED)[0]
        self.run_failed_doc, self.remediation_doc = doc.split(
            '``%s``' % notifier.RUN_FAILED)[1].split(
                '``reconciler.remediation.done``')

    def test_the_docs_include_the_notifier_docstring(self):
        with open(DOC) as f:
            self.assertIn('.. automodule:: reconciler.notifier', f.read())
        self.assertIn('(version %s)' % notifier.PAYLOAD_VERSION,
                      notifier.__doc__)

    def test_finding_payload_keys(self):
        candidate = model.Candidate(
            model.FindingKind.ARRAY_ONLY, model.ResourceType.VOLUME,
            'f3a9c0de-1b2c-4d5e-8f90-123456789abc', array_name='volume-x')
        for old, new in ((None, model.FindingState.CONFIRMED),
                         (model.FindingState.CONFIRMED,
                          model.FindingState.RESOLVED)):
            transition = model.Transition('be1', candidate, old, new,
                                          1e9, 3)
            [(_event, payload)] = notifier.finding_events(
                [transition], {model.FindingKind.ARRAY_ONLY})
            self.assertEqual(documented(self.finding_doc, ':'), set(payload))

    def test_run_failed_payload_keys(self):
        _event, payload = notifier.run_failed_event('be1', 7, 'boom', 1e9)
        self.assertEqual(documented(self.run_failed_doc), set(payload))

    def test_remediation_payload_keys(self):
        finding = history_api.FindingRecord(
            id=3, backend='be1', kind=model.FindingKind.ORPHAN_EXPORT,
            resource_type=model.ResourceType.EXPORT, resource_id='v@h',
            array_name='v@h', cinder_id=None, project_id=None,
            state=model.FindingState.CONFIRMED, first_seen=1e9,
            last_seen=1e9, sightings=3, confirmed_at=1e9, resolved_at=None,
            details={})
        event, payload = notifier.remediation_event(
            finding, 'unexport', 'v@h', 'done', None, 'me', 9, 1e9)
        self.assertEqual('reconciler.remediation.done', event)
        self.assertEqual(documented(self.remediation_doc), set(payload))


class ApiReferenceTest(base.BaseTestCase):
    """doc/source/reference/api.rst names every route, method and query
    parameter the application has.
    """

    def setUp(self):
        super().setUp()
        with open(os.path.join(tests.ROOT, 'doc', 'source', 'reference',
                               'api.rst')) as f:
            self.doc = f.read()

    def test_every_route(self):
        from reconciler.api import deploy
        for path, methods in deploy.V1_ROUTES.items():
            for method in methods:
                self.assertIn('``%s /v1%s``' % (method, path.rstrip('/')),
                              self.doc)

    def test_every_findings_query_parameter_and_sort_key(self):
        from reconciler.api.handlers import findings
        for name in findings.FILTERS + findings.PAGING:
            self.assertIn('``%s``' % name, self.doc)
        for key in history_api.FINDING_SORT_KEYS:
            self.assertIn('``%s``' % key, self.doc.split('``sort``')[1])
        for kind in model.FindingKind:
            self.assertIn('``%s``' % kind, self.doc)


def _code_strings():
    """Every string constant of reconciler/ (adjacent literals joined, as
    Python joins them), with ``%%`` as the ``%`` it prints.
    """
    strings = []
    for path in pathlib.Path(tests.ROOT, 'reconciler').rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value,
                                                             str):
                strings.append(node.value.replace('%%', '%'))
    return strings


class TroubleshootingTest(base.BaseTestCase):
    """Each message troubleshooting.rst explains is one the code says.

    A message is a definition term in double backquotes; ``<...>`` marks
    what varies. Every fixed part of it must be in one string of the code,
    so a message reworded in the code fails here until the page follows.
    """

    def test_every_message_is_in_the_code(self):
        with open(os.path.join(tests.ROOT, 'doc', 'source', 'admin',
                               'troubleshooting.rst')) as f:
            terms = re.findall(r'^``(.+)``$', f.read(), re.MULTILINE)
        self.assertGreater(len(terms), 100)
        strings = _code_strings()
        missing = []
        for term in terms:
            for part in re.split(r'<[^<>]*>|\.\.\.', term):
                part = part.strip(' ;:,.()')
                if len(part) >= 4 and not any(part in s for s in strings):
                    missing.append((term, part))
        self.assertEqual([], missing)


class UpgradesTest(base.BaseTestCase):
    """upgrades.rst gives each ``[upgrade_levels]`` cap this release's
    version of its API.
    """

    def test_every_rpc_api_and_its_version(self):
        from reconciler.rpc import agent_api
        from reconciler.rpc import api
        from reconciler.rpc import base as base_api
        from reconciler.rpc import host_api
        from reconciler.rpc import remediation
        with open(os.path.join(tests.ROOT, 'doc', 'source', 'admin',
                               'upgrades.rst')) as f:
            doc = f.read()
        clients = (base_api.BaseClient, host_api.HostAPI,
                   agent_api.AgentAPI, remediation.RemediationClient)
        self.assertEqual(set(clients), {
            c for c in api.Client.__subclasses__()
            if c.__module__.startswith('reconciler.')})
        for client in clients:
            self.assertRegex(doc, r'(?m)^``%s``\s.*\s%s$' % (
                client.CAP, re.escape(client.VERSION)))
