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

"""Version discovery: ``GET /`` (no token needed) and ``GET /v1``."""

from reconciler.api import microversion
from reconciler.api import router


def _version(req, href):
    return {'id': 'v1.0', 'status': 'CURRENT',
            'min_version': microversion.MIN_VERSION,
            'max_version': microversion.MAX_VERSION,
            'links': [{'rel': 'self', 'href': href}]}


def versions(req):
    base = req.application_url.rstrip('/')
    return router.json_response(
        {'versions': [_version(req, base + '/v1/')]})


def v1(req):
    return router.json_response(
        {'version': _version(req, req.application_url.rstrip('/') + '/')})
