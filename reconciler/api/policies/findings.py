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

"""Rules of /v1/findings."""

from oslo_policy import policy

from reconciler.api.policies import base

PREFIX = 'reconciler:finding:%s'
GET_ALL = PREFIX % 'get_all'
GET = PREFIX % 'get'
ALL_PROJECTS = PREFIX % 'all_projects'
IGNORE = PREFIX % 'ignore'
UNIGNORE = PREFIX % 'unignore'


def _rule(name, check_str, description, method, path):
    return policy.DocumentedRuleDefault(
        name=name, check_str=check_str, description=description,
        operations=[{'method': method, 'path': path}],
        scope_types=base.SCOPES)


RULES = [
    _rule(GET_ALL, base.CLOUD_OR_PROJECT_READER,
          'List findings. Without reconciler:finding:all_projects, only '
          "those of the caller's project.", 'GET', '/v1/findings'),
    _rule(GET, base.CLOUD_OR_PROJECT_READER,
          'Show a finding with its evidence, transitions and sightings. '
          "Without reconciler:finding:all_projects, only one of the caller's "
          'project, and neither its evidence nor its backend.',
          'GET', '/v1/findings/{finding_id}'),
    _rule(ALL_PROJECTS, base.CLOUD_READER,
          'See the findings of every project and of no known project, with '
          'their infrastructure fields (backend, array name, evidence); '
          'filter and sort by backend or host.',
          'GET', '/v1/findings'),
    _rule(IGNORE, base.ADMIN,
          'Ignore a finding: it is no longer announced or remediated '
          '(until a time, if given). Audited with the caller.',
          'PUT', '/v1/findings/{finding_id}/ignore'),
    _rule(UNIGNORE, base.ADMIN,
          'Stop ignoring a finding. Audited with the caller.',
          'DELETE', '/v1/findings/{finding_id}/ignore'),
]


def list_rules():
    return RULES
