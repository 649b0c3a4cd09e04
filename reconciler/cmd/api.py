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

"""``cinder-reconciler-api``: the REST API on a simple threaded server, for
development and trials. Production runs ``reconciler.wsgi.api:application``
under uWSGI or mod_wsgi (etc/systemd/cinder-reconciler-api.service).

    cinder-reconciler-api --config-file cinder-reconciler-api.conf
"""

import socketserver
import sys
from wsgiref import simple_server

from oslo_log import log as logging

from reconciler.api import deploy

LOG = logging.getLogger(__name__)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class _Handler(simple_server.WSGIRequestHandler):

    def log_message(self, fmt, *args):
        LOG.info('%s %s', self.address_string(), fmt % args)


def main(argv=None):
    conf = deploy.parse_config(sys.argv[1:] if argv is None else argv)
    app = deploy.load_app(conf)
    server = simple_server.make_server(
        conf.api.bind_host, conf.api.bind_port, app, server_class=_Server,
        handler_class=_Handler)
    LOG.info('cinder-reconciler-api (development server) on http://%s:%d/',
             conf.api.bind_host, server.server_port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
