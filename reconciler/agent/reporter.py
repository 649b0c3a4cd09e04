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

"""One agent pass: scan, report, and scan again when the controller asks.

The controller compares (reconciler.fleet.endpoint); when its first
comparison has something to re-check it answers "recheck" without
recording anything, and the agent sends the first scan with a second one
taken now, as the all-in-one host unit's re-check does. A scan that fails
(an attach held os-brick's lock too long, a command failed) is reported
as such: the controller records a failed run. A controller that cannot be
reached records nothing: the pass fails here, in one line, and the next
interval tries again.
"""

import time

from oslo_log import log as logging

from reconciler import exception
from reconciler.host import manager as host_manager
from reconciler.host import view
from reconciler.rpc import api
from reconciler.rpc import host_api
from reconciler.rpc import payload
from reconciler.rpc import signing
from reconciler import version

LOG = logging.getLogger(__name__)

#: What a pass ends with besides the controller's answers.
UNREACHABLE = 'unreachable'


class Reporter(object):
    """This host's passes, reported through ``client`` (a HostAPI)."""

    def __init__(self, conf, client, runner=None):
        self.conf = conf
        self.group = conf.host_scan
        self.scanner = host_manager.HostScanner(conf, runner)
        self.host = self.scanner.host
        self.client = client

    def run_pass(self):
        """One pass; returns the controller's last answer (a dict with a
        ``status``), never raises for a scan or an RPC failure.
        """
        try:
            with self.scanner._lock(host_manager.PASS_LOCK,
                                    host_manager.PASS_LOCK_PREFIX,
                                    'another host pass'):
                answer = self._run()
        except host_manager.HostBusy as e:
            answer = {'status': 'busy', 'detail': str(e)}
        except exception.ReconcilerError as e:
            answer = {'status': 'failed', 'detail': str(e)}
        level = LOG.info if answer.get('run_status') == 'ok' else LOG.warning
        level('Host %s: %s%s', self.host, answer.get('status'),
              ': %s' % answer['detail'] if answer.get('detail') else '')
        return answer

    def _run(self):
        started = time.monotonic()
        first, failed = self._scan()
        if failed:
            return failed
        seconds = time.monotonic() - started
        answer = self._send(scans=[first], scan_seconds=seconds)
        if answer.get('status') != 'recheck':
            return answer
        second, failed = self._scan()
        return failed or self._send(scans=[first, second],
                                    scan_seconds=seconds)

    def _scan(self):
        """``(scan, None)``, or ``(None, the answer to its failure)``."""
        try:
            return self.scanner.scan(), None
        except host_manager.HostBusy as e:
            return None, self._send(error=str(e), busy=True)
        except exception.ReconcilerError as e:
            return None, self._send(error=str(e))

    def view(self):
        """This host's attachments as the controller's cycle saw them: a
        :class:`reconciler.host.view.CinderHostView` of this host alone.
        """
        body = signing.sign(self.group.report_key, 'view',
                            {'host': self.host}, time.time())
        try:
            answer = self.client.view(
                api.context(host_api.sender(self.host)), body)
        except api.ERRORS as e:
            raise exception.ReconcilerError('controller: %s'
                                            % api.describe(e))
        if answer.get('status') != 'ok':
            raise exception.ReconcilerError('controller: %s: %s' % (
                answer.get('status'), answer.get('detail')))
        attachments = payload.decode(tuple[view.Attachment, ...],
                                     answer.get('attachments'),
                                     'attachments')
        return view.CinderHostView(
            host=self.host, attachments=attachments, volumes={},
            fetched_at=float(answer.get('fetched_at') or 0))

    def report(self, scans=(), scan_seconds=0.0, error=None, busy=False):
        """The report's payload (reconciler.rpc.host_api), signed."""
        body = {'version': host_api.REPORT_VERSION, 'host': self.host,
                'agent': version.version_string(),
                'interval': self.group.interval,
                'protocols': list(self.group.protocols),
                'scans': [payload.encode(s) for s in scans],
                'scan_seconds': round(scan_seconds, 3)}
        if error is not None:
            body.update(error=error, busy=busy)
        return signing.sign(self.group.report_key, 'report', body,
                            time.time())

    def _send(self, **fields):
        try:
            return self.client.report(api.context(host_api.sender(self.host)),
                                      self.report(**fields))
        except api.ERRORS as e:
            return {'status': UNREACHABLE, 'detail': 'controller: %s; '
                    'nothing recorded, the next scan reports again'
                    % api.describe(e)}
