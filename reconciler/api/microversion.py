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

"""The API's microversions: ``OpenStack-API-Version: reconciler 1.x``.

microversion-parse (as Placement uses it) reads the header and answers 406
for a version outside [MIN, MAX]; a request without the header gets 1.0, one
asking for ``latest`` gets MAX. Each version after 1.0 says below what it
changed, so the api-ref and the client can tell.
"""

import microversion_parse

#: The name in the header (``OpenStack-API-Version: reconciler 1.1``).
SERVICE = 'reconciler'
#: Where MicroversionMiddleware leaves the request's version.
ENVIRON_KEY = '%s.microversion' % SERVICE

VERSIONS = [
    '1.0',  # Findings, runs, actions, backends; ignore and unignore.
    '1.1',  # POST /v1/remediations: a plan, or an applied one.
]
MIN_VERSION = VERSIONS[0]
MAX_VERSION = VERSIONS[-1]


def of(req):
    """The request's microversion (a microversion_parse.Version)."""
    return req.environ[ENVIRON_KEY]


def at_least(req, text):
    """Whether the request asked for version ``text`` or a newer one."""
    return of(req) >= microversion_parse.parse_version_string(text)
