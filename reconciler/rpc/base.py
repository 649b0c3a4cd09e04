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

"""The base API (namespace ``baseapi``): ``ping``, on every server.

As Nova's ``baseapi``: whoever can reach a controller or an agent can ask
it which release it runs, which is what an operator (or a health check)
wants to know before capping ``[upgrade_levels]``.
"""

from reconciler.rpc import api
from reconciler import version

NAMESPACE = 'baseapi'


class BaseEndpoint(api.Endpoint):
    """1.0: ``ping``."""

    NAMESPACE = NAMESPACE
    VERSION = '1.0'

    def __init__(self, binary, host):
        self.binary = binary
        self.host = host

    def ping(self, ctxt, arg=None):
        """Who answers, and ``arg`` back."""
        return {'binary': self.binary, 'host': self.host,
                'version': version.version_string(), 'arg': arg}


class BaseClient(api.Client):

    NAMESPACE = NAMESPACE
    VERSION = '1.0'
    CAP = 'baseapi'

    def __init__(self, conf, transport, topic, server=None, timeout=None):
        self.TOPIC = topic
        super().__init__(conf, transport, server=server, timeout=timeout)

    def ping(self, ctxt, arg=None):
        return self.prepare('1.0').call(ctxt, 'ping', arg=arg)
