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

"""Rules of the cloud-wide records (runs, actions, backend summaries),
remediation and the detailed health check.
"""

from oslo_policy import policy

from reconciler.api.policies import base

RUNS = 'reconciler:run:get_all'
ACTIONS = 'reconciler:action:get_all'
BACKENDS = 'reconciler:backend:get_all'
HEALTH_DETAIL = 'reconciler:healthcheck:detail'
PLAN = 'reconciler:remediation:plan'
APPLY = 'reconciler:remediation:apply'

RULES = [
    policy.DocumentedRuleDefault(
        name=RUNS, check_str=base.CLOUD_READER,
        description='List the passes over each backend and host.',
        operations=[{'method': 'GET', 'path': '/v1/runs'}],
        scope_types=base.SCOPES),
    policy.DocumentedRuleDefault(
        name=ACTIONS, check_str=base.CLOUD_READER,
        description='List the audit of remediation steps and of ignored '
                    'findings.',
        operations=[{'method': 'GET', 'path': '/v1/actions'}],
        scope_types=base.SCOPES),
    policy.DocumentedRuleDefault(
        name=BACKENDS, check_str=base.CLOUD_READER,
        description='Summarise each backend and host: newest pass, newest '
                    'successful pass, open findings.',
        operations=[{'method': 'GET', 'path': '/v1/backends'}],
        scope_types=base.SCOPES),
    policy.DocumentedRuleDefault(
        name=PLAN, check_str=base.ADMIN,
        description="Plan a backend's remediation (a dry run, audited as "
                    "planned steps with the caller).",
        operations=[{'method': 'POST', 'path': '/v1/remediations'}],
        scope_types=base.SCOPES),
    policy.DocumentedRuleDefault(
        name=APPLY, check_str=base.ADMIN,
        description="Apply a backend's remediation on the controller, "
                    'through the same gates, limits, lock and audit as '
                    'cinder-reconciler-manage remediate --apply.',
        operations=[{'method': 'POST', 'path': '/v1/remediations'}],
        scope_types=base.SCOPES),
    policy.DocumentedRuleDefault(
        name=HEALTH_DETAIL, check_str=base.ADMIN,
        description="The detailed health check: the history database's "
                    'error, threads and platform.',
        operations=[{'method': 'GET', 'path': '/healthcheck/detail'}],
        scope_types=base.SCOPES),
]


def list_rules():
    return RULES
