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

"""/healthcheck: oslo.middleware's health check with a history database
probe; and /healthcheck/detail, its detailed view, for admins only.

The plain view answers load balancers without a token (200, or 503 while
the database cannot be read or is not at the schema this code needs) and
says only which check failed; the detailed one adds the database's error
(masked), the process's threads and platform.
"""

from oslo_config import cfg
from oslo_middleware import healthcheck
from oslo_middleware.healthcheck import opts as healthcheck_opts
from oslo_middleware.healthcheck import pluginbase
import webob.dec

from reconciler.api import context
from reconciler.api.policies import records as rules
from reconciler.api import policy
from reconciler import exception
from reconciler import history
from reconciler.history import migration

#: The plugin's name (``oslo.middleware.healthcheck`` entry point).
PLUGIN = 'history_database'


class HistoryDatabaseCheck(pluginbase.HealthcheckBaseExtension):
    """The history database answers, at the schema this code needs."""

    _store = None

    @classmethod
    def _history(cls):
        # One engine per process; a connect is tried once, not retried.
        if cls._store is None:
            cls._store = history.History.from_conf(cfg.CONF, max_retries=0)
        return cls._store

    def healthcheck(self, server_port):
        try:
            current = self._history().version()
        except Exception as e:
            return pluginbase.HealthcheckResult(
                available=False, reason='history database unavailable',
                details=exception.describe(e))
        head = migration.head()
        if current != head:
            return pluginbase.HealthcheckResult(
                available=False, reason='history database not at its schema',
                details='revision %s, this code needs %s: run '
                        '"cinder-reconciler-manage db sync"' % (current, head))
        return pluginbase.HealthcheckResult(
            available=True, reason='history database OK',
            details='revision %s' % current)


class DetailedHealthcheck(object):
    """The detailed view, behind auth_token: reconciler:healthcheck:detail."""

    def __init__(self):
        # Its own options: setting ``detailed`` on cfg.CONF's
        # [healthcheck] would detail the anonymous view as well.
        conf = cfg.ConfigOpts()
        conf.register_opts(healthcheck_opts.HEALTHCHECK_OPTS,
                           group='healthcheck')
        conf.set_override('detailed', True, group='healthcheck')
        conf.set_override('backends', [PLUGIN], group='healthcheck')
        self.check = healthcheck.Healthcheck(None, conf)

    @webob.dec.wsgify
    def __call__(self, req):
        ctx = context.of(req)
        policy.authorize(ctx, rules.HEALTH_DETAIL,
                         {'project_id': ctx.project_id})
        return req.get_response(self.check)
