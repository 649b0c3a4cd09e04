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
