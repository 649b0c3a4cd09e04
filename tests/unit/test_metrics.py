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

"""The Prometheus endpoint: one path, the package and process figures, and
host passes counted beside backend passes."""

import urllib.error
import urllib.request

from oslotest import base
from prometheus_client import parser

from reconciler import manager
from reconciler import metrics
from reconciler import model
from reconciler import version
from tests.unit.history import fixtures


class MetricsEndpointTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        history = self.useFixture(fixtures.History()).history
        self.metrics = metrics.Metrics(history)
        self.metrics.serve('127.0.0.1', 0)
        self.addCleanup(self.metrics.stop)
        self.url = 'http://127.0.0.1:%d' % self.metrics.port

    def scrape(self):
        with urllib.request.urlopen(self.url + '/metrics', timeout=10) as r:
            self.assertEqual(200, r.status)
            text = r.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in parser.text_string_to_metric_families(text)
                for s in family.samples}

    def test_only_the_metrics_path_answers(self):
        for path in ('/', '/metricsx', '/metrics/x', '/healthz'):
            e = self.assertRaises(urllib.error.HTTPError,
                                  urllib.request.urlopen, self.url + path,
                                  timeout=10)
            self.assertEqual(404, e.code, path)
            e.close()
        self.scrape()

    def test_build_and_process_figures(self):
        scraped = self.scrape()
        self.assertEqual(1, scraped[(
            'cinder_reconciler_build_info',
            (('version', version.version_string()),))])
        self.assertIn(('process_resident_memory_bytes', ()), scraped)
        self.assertIn(('process_cpu_seconds_total', ()), scraped)
        self.assertIn(('cinder_reconciler_history_up', ()), scraped)

    def test_host_and_backend_passes_are_counted(self):
        for scope, status in (('host:compute-1', model.RunStatus.OK),
                              ('host:compute-1', model.RunStatus.FAILED),
                              ('lvm1', model.RunStatus.OK)):
            self.metrics.observe(manager.PassReport(
                scope, 'cinder@lvm1', 1, status), 2.0)
        scraped = self.scrape()
        for scope, status in (('host:compute-1', 'ok'),
                              ('host:compute-1', 'failed'),
                              ('lvm1', 'ok')):
            self.assertEqual(1, scraped[(
                'cinder_reconciler_passes_total',
                (('backend', scope), ('status', status)))])
        self.assertEqual(2, scraped[(
            'cinder_reconciler_pass_duration_seconds_count',
            (('backend', 'host:compute-1'),))])
