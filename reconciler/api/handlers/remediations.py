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

"""/v1/remediations (microversion 1.1): a backend's remediation, planned
or applied by a controller over RPC (reconciler.rpc.remediation).

The API has no Cinder or array credentials, so it never acts itself: the
controller runs the remediation under the backend's lock, through the
CLI's gates, limits and audit, with the caller's token as the actor.
"""

from oslo_config import cfg
import webob.exc

from reconciler.api import context
from reconciler.api import errors
from reconciler.api import microversion
from reconciler.api.policies import records as rules
from reconciler.api import policy
from reconciler.api import router
from reconciler import model
from reconciler.rpc import api as rpc_api
from reconciler.rpc import remediation as rpc_remediation

_KINDS = {k.value for k in model.FindingKind}
_BODY = ('{"backend": NAME, "apply": false, "kinds": [KIND...], '
         '"finding_ids": [ID...], "quarantine": false, "limit": N}')

_transport = None


def _client():
    """A client of the controllers' remediation API on this process's
    transport (one per process, made on first use).
    """
    global _transport
    conf = cfg.CONF
    if not rpc_api.configured(conf):
        raise errors.http(webob.exc.HTTPServiceUnavailable,
                          'Remediation needs [DEFAULT] transport_url: the '
                          'API asks a controller to act.')
    if _transport is None:
        _transport = rpc_api.get_transport(conf)
    return rpc_remediation.RemediationClient(
        conf, _transport, timeout=conf.api.remediation_timeout)


def _options(body):
    if not isinstance(body.get('backend'), str) or set(body) - {
            'backend', 'apply', 'kinds', 'finding_ids', 'quarantine',
            'limit'}:
        raise errors.bad_request('The body is %s.' % _BODY)
    kinds = body.get('kinds') or []
    ids = body.get('finding_ids') or []
    limit = body.get('limit')
    valid = (isinstance(kinds, list) and set(kinds) <= _KINDS
             and isinstance(ids, list)
             and all(type(i) is int for i in ids)
             and (limit is None or type(limit) is int and limit > 0)
             and all(isinstance(body.get(k, False), bool)
                     for k in ('apply', 'quarantine')))
    if not valid:
        raise errors.bad_request('The body is %s, kinds among %s.'
                                 % (_BODY, ', '.join(sorted(_KINDS))))
    return dict(apply=body.get('apply', False), kinds=kinds,
                finding_ids=ids, quarantine=body.get('quarantine', False),
                limit=limit)


def remediate(req):
    if not microversion.at_least(req, '1.1'):
        raise errors.not_found('No resource at %s before microversion 1.1.'
                               % req.path_info)
    ctx = context.of(req)
    body = router.json_body(req)
    options = _options(body)
    policy.authorize(ctx, rules.APPLY if options['apply'] else rules.PLAN,
                     {'project_id': ctx.project_id})
    try:
        answer = _client().remediate(
            rpc_api.context('cinder-reconciler-api %s' % ctx.request_id),
            body['backend'], ctx.actor, **options)
    except rpc_api.ERRORS as e:
        timeout = 'no answer in time' in rpc_api.describe(e)
        raise errors.http(
            webob.exc.HTTPGatewayTimeout if timeout
            else webob.exc.HTTPServiceUnavailable,
            'The controller did not carry out the remediation: %s.'
            % rpc_api.describe(e))
    if 'error' in answer:
        raise errors.http(webob.exc.HTTPConflict, answer['error'])
    return router.json_response({'remediation': answer['outcome']})
