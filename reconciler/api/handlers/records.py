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

"""/v1/runs, /v1/actions and /v1/backends: cloud readers only."""

from reconciler.api import context
from reconciler.api import params
from reconciler.api.policies import records as rules
from reconciler.api import policy
from reconciler.api import router
from reconciler.history import views
from reconciler import model

_STATUSES = [s.value for s in model.RunStatus]


def _authorized(req, rule):
    ctx = context.of(req)
    policy.authorize(ctx, rule, {'project_id': ctx.project_id})
    return req.environ[router.HISTORY]


def list_runs(req):
    """Newest first."""
    store = _authorized(req, rules.RUNS)
    args = params.query(req, ('backend', 'status', 'limit', 'marker'))
    limit = params.limit(args)
    rows = store.runs(backend=args.get('backend'),
                      status=params.choice(args, 'status', _STATUSES),
                      limit=limit, marker=params.integer(args, 'marker'))
    body = {'runs': [views.run_dict(r) for r in rows]}
    body.update(params.links(req, 'runs', rows, limit, args))
    return router.json_response(body)


def list_actions(req):
    """Newest first: remediation steps, ignores and unignores."""
    store = _authorized(req, rules.ACTIONS)
    args = params.query(req, ('backend', 'finding_id', 'limit', 'marker'))
    limit = params.limit(args)
    rows = store.actions(backend=args.get('backend'),
                         finding_id=params.integer(args, 'finding_id'),
                         limit=limit, marker=params.integer(args, 'marker'))
    body = {'actions': [views.action_dict(a) for a in rows]}
    body.update(params.links(req, 'actions', rows, limit, args))
    return router.json_response(body)


def list_backends(req):
    store = _authorized(req, rules.BACKENDS)
    params.query(req, ())
    return router.json_response(
        {'backends': views.backend_summaries(store)})
