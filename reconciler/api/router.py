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

"""Routes to handlers, JSON in and out.

A handler is ``handler(req)`` returning what ``json_response`` makes; it
finds the caller in ``context.of(req)``, the history in
``req.environ[HISTORY]`` and the URL's variables in ``req.urlvars``. A
path that exists without the request's method answers 405 with ``Allow``.
"""

from oslo_serialization import jsonutils
import routes
import webob
import webob.dec
import webob.exc

from reconciler.api import errors

HISTORY = 'reconciler.history'


def json_response(body, status=200):
    return webob.Response(status=status, content_type='application/json',
                          charset='utf-8',
                          body=jsonutils.dump_as_bytes(body))


def no_content():
    return webob.Response(status=204)


def json_body(req):
    """The request's JSON object (an empty body is ``{}``)."""
    if not req.body:
        return {}
    if req.content_type != 'application/json':
        raise errors.http(webob.exc.HTTPUnsupportedMediaType,
                          'The body must be application/json.')
    try:
        body = jsonutils.loads(req.body)
    except ValueError as e:
        raise errors.bad_request('The body is not JSON: %s' % e)
    if not isinstance(body, dict):
        raise errors.bad_request('The body must be a JSON object.')
    return body


class Router(object):
    """``routes``: ``{path template: {method: handler}}``."""

    def __init__(self, routes_table, history):
        self.history = history
        self.routes = routes_table
        self.mapper = routes.Mapper()
        for path in routes_table:
            self.mapper.connect(path, route=path)

    @webob.dec.wsgify
    def __call__(self, req):
        match = self.mapper.match(req.path_info or '/')
        if match is None:
            raise errors.not_found('No resource at %s.' % req.path_info)
        methods = self.routes[match.pop('route')]
        handler = methods.get(req.method)
        if handler is None:
            raise errors.http(webob.exc.HTTPMethodNotAllowed,
                              '%s is not allowed here.' % req.method,
                              headers=[('Allow', ', '.join(sorted(methods)))])
        req.urlvars = match
        req.environ[HISTORY] = self.history
        return handler(req)
