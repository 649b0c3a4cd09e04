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

"""Error bodies as the API-SIG guideline shapes them, and the fault barrier.

Every error a client gets is JSON: ``{"errors": [{"status", "title",
"detail", "request_id"}]}``. An unexpected exception is logged with its
traceback and answered with a 500 that says nothing of it.
"""

from oslo_log import log as logging
from oslo_middleware import request_id
import webob
import webob.dec
import webob.exc

from reconciler import exception

LOG = logging.getLogger(__name__)


def _document(detail, status, title, environ):
    return {'errors': [{
        'status': int(status.split(None, 1)[0]), 'title': title,
        'detail': detail,
        'request_id': environ.get(request_id.ENV_REQUEST_ID)}]}


def json_formatter(body, status, title, environ):
    """webob's ``json_formatter`` hook: the API-SIG error document."""
    return _document(' '.join(webob.exc.strip_tags(body).split()), status,
                     title, environ)


def http(cls, detail, **kwargs):
    """A webob HTTP error (``cls``) whose JSON body says ``detail``."""
    def formatter(body, status, title, environ):
        return _document(detail, status, title, environ)
    return cls(detail=detail, json_formatter=formatter, **kwargs)


def not_found(detail):
    return http(webob.exc.HTTPNotFound, detail)


def bad_request(detail):
    return http(webob.exc.HTTPBadRequest, detail)


def forbidden(detail):
    return http(webob.exc.HTTPForbidden, detail)


class FaultWrapper(object):
    """Answers JSON errors only: what webob raises below is rendered as
    JSON (the API speaks nothing else), and an unexpected exception is
    logged and answered with a 500 that says nothing of it.
    """

    def __init__(self, application):
        self.application = application

    @webob.dec.wsgify
    def __call__(self, req):
        req.environ['HTTP_ACCEPT'] = 'application/json'
        try:
            return req.get_response(self.application)
        except webob.exc.HTTPException as e:
            if 'json_formatter' not in vars(e):   # webob's own default
                e.json_formatter = json_formatter
            return e
        except exception.NotFound as e:
            return not_found(str(e))
        except exception.DATABASE_ERRORS as e:
            LOG.error('%s %s: %s', req.method, req.path,
                      exception.describe(e))
            return http(webob.exc.HTTPServiceUnavailable,
                        'The history database is unavailable.')
        except Exception:
            LOG.exception('%s %s failed', req.method, req.path)
            return http(webob.exc.HTTPInternalServerError,
                        'The server failed to answer the request; its log '
                        'says why.')
