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

"""The API's oslo.policy enforcer: defaults in code, overridden by the
operator's policy file ([oslo_policy] policy_file).
"""

import sys

from oslo_config import cfg
from oslo_policy import policy

from reconciler.api import errors
from reconciler.api import policies

_ENFORCER = None


def enforcer(conf=cfg.CONF):
    """The process's enforcer, created on first use."""
    global _ENFORCER
    if _ENFORCER is None:
        _ENFORCER = policy.Enforcer(conf)
        _ENFORCER.register_defaults(policies.list_rules())
    return _ENFORCER


def reset():
    """Forget the enforcer (tests change the configuration it read)."""
    global _ENFORCER
    _ENFORCER = None


def get_enforcer():
    """``oslo.policy.enforcer`` entry point, for oslopolicy-checker and
    oslopolicy-policy-generator: the configuration from the command line.
    """
    from reconciler import conf as reconciler_conf
    conf = cfg.ConfigOpts()
    reconciler_conf.register_api(conf)
    conf(sys.argv[1:], project='cinder-reconciler',
         default_config_files=[])
    enforcer_ = policy.Enforcer(conf)
    enforcer_.register_defaults(policies.list_rules())
    return enforcer_


def allowed(context, rule, target):
    """Whether ``context`` passes ``rule`` for ``target``.

    A target without a project never matches a caller's project:
    oslo.policy compares ``str(None)``, which a system-scoped token's
    missing project equals.
    """
    if target.get('project_id') is None:
        target = dict(target, project_id='')
    try:
        return enforcer().authorize(rule, target, context)
    except policy.InvalidScope:
        return False


def authorize(context, rule, target):
    """Raise a 403 unless ``context`` passes ``rule`` for ``target``."""
    if not allowed(context, rule, target):
        raise errors.forbidden('Policy does not allow %s to be performed.'
                               % rule)
