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

"""/v1/findings: list, show, ignore and unignore.

A caller without reconciler:finding:all_projects (a project reader) sees
only findings whose project is theirs, without the infrastructure fields
(backend, array name, evidence, the runs that saw it), and can neither
filter nor sort by backend or host.
"""

from reconciler.api import context
from reconciler.api import errors
from reconciler.api import params
from reconciler.api.policies import findings as rules
from reconciler.api import policy
from reconciler.api import router
from reconciler.history import api as history_api
from reconciler.history import views
from reconciler.host import scope
from reconciler import model

FILTERS = ('backend', 'host', 'kind', 'state', 'resource_id', 'project_id',
           'since')
PAGING = ('sort', 'limit', 'marker')
#: What a caller without reconciler:finding:all_projects does not see.
INFRASTRUCTURE = ('backend', 'array_name', 'details', 'newest_sightings')
_KINDS = [k.value for k in model.FindingKind]
_STATES = [s.value for s in model.FindingState]


def _all_projects(ctx):
    return policy.allowed(ctx, rules.ALL_PROJECTS,
                          {'project_id': ctx.project_id})


def _shown(finding, every):
    if every:
        return finding
    return {k: v for k, v in finding.items() if k not in INFRASTRUCTURE}


def list_findings(req):
    ctx = context.of(req)
    args = params.query(req, FILTERS + PAGING)
    policy.authorize(ctx, rules.GET_ALL, {'project_id': ctx.project_id})
    every = _all_projects(ctx)
    project = args.get('project_id')
    sort_keys = history_api.FINDING_SORT_KEYS
    if not every:
        if ctx.project_id is None:
            raise errors.forbidden('Only a project-scoped token lists the '
                                   "findings of its project.")
        for key in ('backend', 'host'):
            if key in args:
                raise errors.forbidden('Filtering by %s needs %s.'
                                       % (key, rules.ALL_PROJECTS))
        if project not in (None, ctx.project_id):
            raise errors.forbidden("Another project's findings need %s."
                                   % rules.ALL_PROJECTS)
        project = ctx.project_id
        sort_keys = tuple(k for k in sort_keys if k != 'backend')
    backend = args.get('backend')
    if 'host' in args:
        if backend is not None:
            raise errors.bad_request('backend and host exclude each other.')
        backend = scope.name(args['host'])
    limit = params.limit(args)
    rows = req.environ[router.HISTORY].findings(
        backend=backend, state=params.choice(args, 'state', _STATES),
        kind=params.choice(args, 'kind', _KINDS), project_id=project,
        resource_id=args.get('resource_id'),
        since=params.time(args, 'since'),
        sort=params.sort(args, sort_keys), limit=limit,
        marker=params.integer(args, 'marker'))
    body = {'findings': [_shown(views.finding_dict(f), every)
                         for f in rows]}
    body.update(params.links(req, 'findings', rows, limit, args))
    return router.json_response(body)


def _finding(req):
    """The finding of the URL, if the caller may know it exists."""
    ctx = context.of(req)
    store = req.environ[router.HISTORY]
    finding_id = params.integer(req.urlvars, 'finding_id')
    finding = store.finding(finding_id)
    every = _all_projects(ctx)
    if finding is None or not every and (
            ctx.project_id is None or finding.project_id != ctx.project_id):
        raise errors.not_found('No finding %d.' % finding_id)
    return ctx, store, finding, every


def show_finding(req):
    ctx, store, finding, every = _finding(req)
    policy.authorize(ctx, rules.GET, {'project_id': finding.project_id})
    return router.json_response(
        {'finding': _shown(views.finding_story(store, finding), every)})


def ignore(req):
    ctx, store, finding, _ = _finding(req)
    policy.authorize(ctx, rules.IGNORE, {'project_id': finding.project_id})
    body = router.json_body(req)
    reason = body.get('reason')
    unknown = set(body) - {'reason', 'until'}
    if unknown or not isinstance(reason, str) or not reason.strip():
        raise errors.bad_request('The body is {"reason": TEXT, "until": '
                                 'ISO 8601 time (optional)}.')
    until = params.time(body, 'until')
    store.ignore(finding.id, reason.strip(), ctx.actor, until=until)
    return router.json_response(
        {'finding': views.finding_dict(store.finding(finding.id))})


def unignore(req):
    ctx, store, finding, _ = _finding(req)
    policy.authorize(ctx, rules.UNIGNORE, {'project_id': finding.project_id})
    store.unignore(finding.id, ctx.actor)
    return router.no_content()
