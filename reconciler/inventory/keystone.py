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

"""Keystone's view of the cloud: which projects exist.

``GET /v3/projects`` lists every project of every domain to an admin in
one answer: Keystone does not page it, but with ``[DEFAULT] list_limit``
set it cuts the list and says ``truncated``, which fails the pass (a cut
list would make the projects after it look deleted). The point look-up
is ``GET /v3/projects/{id}`` (404: no such project).
"""

import dataclasses
import time
import urllib.parse

from oslo_log import log as logging

from reconciler import exception
from reconciler.inventory import api

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True)
class KeystoneView:
    projects: frozenset     # ids
    seconds: float = 0.0
    requests: int = 0


class KeystoneInventory(api.ApiReader):

    SERVICE = 'Keystone'
    ERROR = exception.KeystoneError

    def __init__(self, conf):
        super().__init__(api.load_adapter(conf, 'keystone'))

    def view(self):
        start = time.monotonic()
        requests = self.requests
        body = self.get('/projects', missing_ok=False)
        items = body.get('projects')
        if not isinstance(items, list):
            raise exception.KeystoneError(
                'Keystone GET /projects returned no projects list')
        if body.get('truncated'):
            raise exception.KeystoneError(
                'Keystone GET /projects: the list is truncated ([DEFAULT] '
                "list_limit of Keystone): projects past it would look "
                'deleted')
        try:
            projects = frozenset(p['id'] for p in items)
        except (KeyError, TypeError) as e:
            raise exception.KeystoneError('Keystone listing malformed: %s'
                                          % type(e).__name__)
        LOG.debug('Keystone view: %d projects', len(projects))
        return KeystoneView(projects, seconds=time.monotonic() - start,
                            requests=self.requests - requests)

    def project_exists(self, project_id):
        return self.get('/projects/%s' % urllib.parse.quote(
            project_id, safe='')) is not None
