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

"""What operators look for: metrics, dry runs, runs, findings show, purge.

Against the demo cloud (a real cinder-api behind a fault proxy), with the
real ``cinder-reconciler`` and ``cinder-reconciler-manage`` processes.
"""

import csv
import io
import json
import os
import sqlite3
import subprocess
import time
import urllib.request

import fixtures
from oslotest import base
from prometheus_client import parser

from reconciler.simulators import ports

from tests.functional import fixtures as local_fixtures
from tests.functional import test_manage

SLOW_SECONDS = 4

DAEMON_CONF = """
[DEFAULT]
host = demo-host
enabled_backends = fake1

[reconciler]
periodic_fuzzy_delay = 0

[metrics]
port = {port}

[fake1]
reconciler_driver = fake
fake_array_file = {tmp}/array.yaml
reconciler_interval = 3600
reconciler_sightings = 1
reconciler_grace_period = 0

[oslo_messaging_notifications]
driver = log
"""


def scrape(port):
    """``{(name, labels): value}`` from the endpoint, via a real client."""
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port,
                                timeout=5) as answer:
        text = answer.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in parser.text_string_to_metric_families(text)
            for s in family.samples}


class MetricsTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        self.useFixture(fixtures.Timeout(120, gentle=True))
        self.port = ports.free_port()
        self.demo = self.useFixture(
            local_fixtures.DemoCloud(DAEMON_CONF, port=self.port))
        self.demo.manage('db', 'sync')
        self.demo.proxy.delay(r'/volumes/detail', SLOW_SECONDS)

    def scrape_until(self, predicate, timeout=40):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                metrics = scrape(self.port)
            except OSError:
                metrics = None
            if metrics is not None and predicate(metrics):
                return metrics
            time.sleep(0.2)
        self.fail('timed out; last scrape: %s' % (metrics,))

    def test_scraped_during_and_after_a_pass(self):
        log = open(os.path.join(self.demo.tmp, 'daemon.log'), 'w')
        self.addCleanup(log.close)
        daemon = subprocess.Popen(self.demo.command('reconciler'), stdout=log,
                                  stderr=subprocess.STDOUT)
        self.addCleanup(lambda: daemon.poll() is None and daemon.kill())
        lock = ('cinder_reconciler_lock_held', (('backend', 'fake1'),))

        # During the pass (Cinder's listing is slowed down): the lock is
        # held, no pass has succeeded yet.
        during = self.scrape_until(lambda m: m.get(lock) == 1)
        self.assertEqual(1, during[('cinder_reconciler_history_up', ())])
        self.assertNotIn(('cinder_reconciler_last_success_timestamp_seconds',
                          (('backend', 'fake1'),)), during)

        ok = ('cinder_reconciler_passes_total',
              (('backend', 'fake1'), ('status', 'ok')))
        after = self.scrape_until(lambda m: m.get(ok) == 1)
        self.assertEqual(0, after[lock])
        last = after[('cinder_reconciler_last_success_timestamp_seconds',
                      (('backend', 'fake1'),))]
        self.assertLess(abs(time.time() - last), 60)
        self.assertEqual(1, after[('cinder_reconciler_last_pass_ok',
                                   (('backend', 'fake1'),))])
        duration = after[('cinder_reconciler_pass_duration_seconds_sum',
                          (('backend', 'fake1'),))]
        self.assertGreaterEqual(duration, SLOW_SECONDS)
        cinder_stage = after[('cinder_reconciler_pass_stage_seconds',
                              (('backend', 'fake1'), ('stage', 'cinder')))]
        self.assertGreaterEqual(cinder_stage, SLOW_SECONDS)
        findings = {labels: value for (name, labels), value in after.items()
                    if name == 'cinder_reconciler_findings'}
        expected = {}
        for kind, _, _ in test_manage.PLANTED:
            key = (('backend', 'fake1'), ('kind', kind),
                   ('state', 'confirmed'))
            expected[key] = expected.get(key, 0) + 1
        self.assertEqual(expected, findings)
        # Notifications go through the outbox, which the flusher empties
        # after the pass.
        self.scrape_until(
            lambda m: m.get(('cinder_reconciler_outbox_depth', ())) == 0)

        # The history gone: the endpoint still answers, and says so.
        os.rename(os.path.join(self.demo.tmp, 'r.sqlite'),
                  os.path.join(self.demo.tmp, 'moved.sqlite'))
        gone = self.scrape_until(
            lambda m: m.get(('cinder_reconciler_history_up', ())) == 0)
        self.assertEqual(1, gone[ok])
        daemon.terminate()
        self.assertEqual(0, daemon.wait(timeout=30))


class OperationsTest(base.BaseTestCase):

    def setUp(self):
        super().setUp()
        # A guard against a hang, not a speed target: a test runs up to
        # 15 commands, each a new interpreter (~1.7 s of CPU, several times
        # that on a loaded machine).
        self.useFixture(fixtures.Timeout(300, gentle=True))
        self.demo = self.useFixture(local_fixtures.DemoCloud(test_manage.CONF))
        self.demo.manage('db', 'sync')
        self.db = os.path.join(self.demo.tmp, 'r.sqlite')

    def rows(self):
        """Row counts of every history table."""
        with sqlite3.connect(self.db) as db:
            return {t: db.execute('SELECT count(*) FROM %s' % t).fetchone()[0]
                    for t in ('runs', 'findings', 'notification_outbox')}

    def shift(self, db, table, columns, days):
        """Move times by whole days, keeping SQLAlchemy's text format."""
        db.execute('UPDATE %s SET %s' % (table, ', '.join(
            "%s = strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '%+d days') "
            "|| substr(%s, 20)" % (c, c, days, c) for c in columns)))

    def json(self, *args):
        return json.loads(self.demo.manage(*args, '--format', 'json').stdout)

    def test_dry_run_changes_nothing(self):
        empty = self.rows()
        text = self.demo.manage('check', '--dry-run').stdout
        self.assertIn('Backend fake1 (demo-host@fake1): dry run ok', text)
        self.assertIn('would go new -> suspected', text)
        self.assertIn('nothing was recorded or announced', text)
        [dry] = self.json('check', '--dry-run')
        self.assertIsNone(dry['run_id'])
        self.assertEqual(test_manage.PLANTED, sorted(
            (f['kind'], f['resource_type'], f['resource_id'])
            for f in dry['findings']))
        self.assertEqual(empty, self.rows())

        # After a real pass, a dry run predicts what the next would record.
        self.demo.manage('check')
        recorded = self.rows()
        [dry] = self.json('check', '--dry-run')
        self.assertEqual(
            {('suspected', 'confirmed')},
            {(t['old_state'], t['new_state']) for t in dry['transitions']})
        self.assertEqual(recorded, self.rows())
        [real] = self.json('check')
        self.assertEqual(
            sorted((t['resource_id'], t['new_state'])
                   for t in dry['transitions']),
            sorted((t['resource_id'], t['new_state'])
                   for t in real['transitions']))

    def test_runs_findings_show_and_csv(self):
        self.demo.manage('check')
        self.demo.proxy.fail(r'/volumes/detail', status=500, times=1)
        self.demo.manage('check', check=False)
        self.demo.manage('check')

        runs = self.json('runs', 'list')
        self.assertEqual([(3, 'ok'), (2, 'failed'), (1, 'ok')],
                         [(r['id'], r['status']) for r in runs])
        self.assertEqual([2], [r['id'] for r in self.json(
            'runs', 'list', '--status', 'failed')])
        self.assertIn('500', runs[1]['error'])

        table = self.demo.manage('runs', 'list').stdout
        self.assertIn('failed', table)
        rows = list(csv.DictReader(io.StringIO(self.demo.manage(
            'runs', 'list', '--format', 'csv').stdout)))
        self.assertEqual(['3', '2', '1'], [r['id'] for r in rows])

        findings = self.json('findings', 'list', '--state', 'confirmed')
        lost = [f for f in findings
                if f['resource_id'] == test_manage.scn.uid('lost-on-array')]
        [lost] = lost
        story = self.json('findings', 'show', str(lost['id']))
        self.assertEqual('cinder_only', story['kind'])
        self.assertEqual(['suspected', 'confirmed'],
                         [t['state'] for t in story['transitions']])
        # Seen by the two ok passes, not by the failed one.
        self.assertEqual(2, story['seen_by'])
        self.assertEqual([1, 3], [r['run_id']
                                  for r in story['newest_sightings']])
        self.assertEqual('available', story['details']['status'])
        text = self.demo.manage('findings', 'show', str(lost['id'])).stdout
        self.assertRegex(text, r'\| Field +\| Value +\|')
        self.assertRegex(text, r'\| details +\| \{[^\n]*"status": '
                               r'"available"')
        self.assertRegex(text, r'\| seen_by +\| 2 +\|')
        missing = self.demo.manage('findings', 'show', '9999', check=False)
        self.assertEqual(1, missing.returncode)
        self.assertIn('no finding 9999', missing.stderr)

        findings_csv = list(csv.DictReader(io.StringIO(self.demo.manage(
            'findings', 'list', '--format', 'csv').stdout)))
        self.assertEqual(len(test_manage.PLANTED), len(findings_csv))
        self.assertEqual({'confirmed'}, {f['state'] for f in findings_csv})
        check_csv = list(csv.DictReader(io.StringIO(self.demo.manage(
            'check', '--format', 'csv').stdout)))
        self.assertEqual(test_manage.PLANTED, sorted(
            (f['kind'], f['resource_type'], f['resource_id'])
            for f in check_csv))
        self.assertEqual({'4'}, {f['run_id'] for f in check_csv})

    def test_purge_keeps_open_findings_and_what_they_need(self):
        self.demo.manage('check')
        self.demo.manage('check')
        before = self.rows()
        # Nothing is old enough yet.
        self.assertIn('Purged 0 runs and 0 resolved findings',
                      self.demo.manage('db', 'purge', '--age-in-days',
                                       '1').stdout)
        self.assertEqual(before, self.rows())
        # Age everything by ten days: the open findings and the runs since
        # they were first seen stay.
        with sqlite3.connect(self.db) as db:
            for table, columns in (('runs', ('started_at', 'finished_at')),
                                   ('findings', ('first_seen', 'last_seen',
                                                 'confirmed_at'))):
                self.shift(db, table, columns, -10)
        self.demo.manage('db', 'purge', '--age-in-days', '5')
        self.assertEqual(before, self.rows())

        # Resolve one finding (its object comes back on the array) ten
        # days ago: it goes, with the runs no open finding needs.
        self.assertEqual(1, self.demo.manage(
            'db', 'purge', '--age-in-days', '0', check=False).returncode)
        with sqlite3.connect(self.db) as db:
            db.execute("UPDATE findings SET state = 'resolved', "
                       "resolved_at = last_seen WHERE resource_type = "
                       "'export'")
            self.shift(db, 'findings', ('first_seen',), 9)
        self.assertIn('Purged 1 runs and 1 resolved findings',
                      self.demo.manage('db', 'purge', '--age-in-days',
                                       '5').stdout)
        self.assertEqual(dict(before, runs=before['runs'] - 1,
                              findings=before['findings'] - 1), self.rows())
        self.assertEqual([2], [r['id'] for r in self.json('runs', 'list')])
