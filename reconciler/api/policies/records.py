"""Rules of the cloud-wide records: runs, actions, backend summaries and
the detailed health check.
"""

from oslo_policy import policy

from reconciler.api.policies import base

RUNS = 'reconciler:run:get_all'
ACTIONS = 'reconciler:action:get_all'
BACKENDS = 'reconciler:backend:get_all'
HEALTH_DETAIL = 'reconciler:healthcheck:detail'

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
        name=HEALTH_DETAIL, check_str=base.ADMIN,
        description="The detailed health check: the history database's "
                    'error, threads and platform.',
        operations=[{'method': 'GET', 'path': '/healthcheck/detail'}],
        scope_types=base.SCOPES),
]


def list_rules():
    return RULES
