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

"""The ``host`` API: agents report their scans to a controller.

1.0
  ``report(report)``: a host's scans (or why it could not scan); answers
  ``{"status": "recorded" | "recheck" | "failed" | "busy" | "refused",
  "detail", "run_id", "run_status"}``. "recheck": the comparison found
  something to re-check, nothing was recorded; the agent scans again and
  sends both scans.
  ``view(request)``: the host's attachments in the controller's view
  (targets, LUNs, portals and states: never connection_info).

Both payloads are dicts with a ``version`` of their own, the ``host`` they
are about, ``sent_at`` and, when the controllers authenticate agents, a
``signature`` (reconciler.rpc.signing). Scans are
:class:`reconciler.host.view.HostView` through reconciler.rpc.payload: a
field added there must have a default, so scans of an older agent decode.
"""

from reconciler.rpc import api
from reconciler.rpc import controller

NAMESPACE = 'host'
#: The payloads' own version.
REPORT_VERSION = '1.0'
AGENT_BINARY = 'cinder-reconciler-agent'


def sender(host):
    """The request context's sender of ``host``'s agent."""
    return '%s@%s' % (AGENT_BINARY, host)


class HostAPI(api.Client):

    TOPIC = controller.TOPIC
    NAMESPACE = NAMESPACE
    VERSION = '1.0'
    CAP = 'host'

    def report(self, ctxt, report):
        return self.prepare('1.0').call(ctxt, 'report', report=report)

    def view(self, ctxt, request):
        return self.prepare('1.0').call(ctxt, 'view', request=request)
