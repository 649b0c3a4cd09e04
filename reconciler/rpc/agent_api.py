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

"""The ``agent`` API: a controller asks one host's agent.

Each agent serves topic :data:`TOPIC` as server ``<its connector host>``,
so a call reaches that host's agent only.

1.0
  ``scan(request)``: a scan now, under os-brick's lock (read-only).
  ``prepare(request)``: takes os-brick's lock for a remediation step and
  holds it (until ``disconnect`` or ``release``, or at most
  ``[host_scan] lock_timeout`` seconds), then scans; answers ``{"token",
  "scan", "protocols"}``. The controller lists Cinder after this, so no
  attach can slip between its look at Cinder and the act.
  ``disconnect(request)``: with the lock of ``token``: the object the
  controller judged must still be there unchanged and used by nobody;
  then os-brick's disconnect. Answers ``{"result": "done" | "skipped" |
  "failed", "reason", "commands"}`` and releases the lock.
  ``release(request)``: releases the lock of ``token``.

Requests carry the agent's ``host`` and, when the controllers
authenticate agents, are signed with that host's key
(reconciler.rpc.signing), which only the controllers and that host hold.
"""

from reconciler.rpc import api

TOPIC = 'cinder-reconciler-agent'
NAMESPACE = 'agent'
BINARY = 'cinder-reconciler-agent'
#: Seconds a disconnect may take: os-brick flushes and retries.
DISCONNECT_TIMEOUT = 300


class AgentAPI(api.Client):

    TOPIC = TOPIC
    NAMESPACE = NAMESPACE
    VERSION = '1.0'
    CAP = 'agent'

    def __init__(self, conf, transport, host, timeout=None):
        super().__init__(conf, transport, server=host, timeout=timeout)

    def _call(self, ctxt, method, request, timeout=None):
        prepared = self.prepare('1.0', **(
            {'timeout': timeout} if timeout else {}))
        return prepared.call(ctxt, method, request=request)

    def scan(self, ctxt, request):
        return self._call(ctxt, 'scan', request)

    def prepare_step(self, ctxt, request, timeout):
        return self._call(ctxt, 'prepare', request, timeout)

    def disconnect(self, ctxt, request):
        return self._call(ctxt, 'disconnect', request, DISCONNECT_TIMEOUT)

    def release(self, ctxt, request):
        return self._call(ctxt, 'release', request)
