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

"""paste.deploy factories of the pipeline in api-paste.ini, and the
application as a WSGI server loads it.
"""

import os

from microversion_parse import middleware as microversion_middleware
from oslo_config import cfg
from oslo_log import log as logging
from oslo_middleware import cors
from paste import deploy

from reconciler.api import context
from reconciler.api import errors
from reconciler.api.handlers import findings
from reconciler.api.handlers import records
from reconciler.api.handlers import remediations
from reconciler.api.handlers import root
from reconciler.api import healthcheck
from reconciler.api import microversion
from reconciler.api import router
from reconciler import conf as reconciler_conf
from reconciler import history
from reconciler.rpc import api as rpc_api
from reconciler import version

LOG = logging.getLogger(__name__)

V1_ROUTES = {
    '/': {'GET': root.v1},
    '/findings': {'GET': findings.list_findings},
    '/findings/{finding_id}': {'GET': findings.show_finding},
    '/findings/{finding_id}/ignore': {'PUT': findings.ignore,
                                      'DELETE': findings.unignore},
    '/runs': {'GET': records.list_runs},
    '/actions': {'GET': records.list_actions},
    '/backends': {'GET': records.list_backends},
    '/remediations': {'POST': remediations.remediate},
}

#: Where the API reads its configuration when no --config-file is given.
DEFAULT_CONFIG = '/etc/cinder-reconciler/cinder-reconciler-api.conf'
#: Environment variable naming the configuration files (';'-separated)
#: for servers that pass no arguments (uWSGI, mod_wsgi).
CONFIG_ENV = 'OS_CINDER_RECONCILER_API_CONFIG_FILES'


def _history():
    # The engine connects on first use, so a server that forks its
    # workers after loading the application shares no connection.
    return history.History.from_conf(cfg.CONF)


def v1_factory(global_conf, **local_conf):
    return router.Router(V1_ROUTES, _history())


def versions_factory(global_conf, **local_conf):
    return errors.FaultWrapper(router.Router({'/': {'GET': root.versions}},
                                             None))


def healthcheck_detail_factory(global_conf, **local_conf):
    return healthcheck.DetailedHealthcheck()


def faultwrap_filter(global_conf, **local_conf):
    return errors.FaultWrapper


def cors_filter(global_conf, **local_conf):
    """oslo.middleware's CORS on the API's own options ([cors]): its paste
    factory would read the project's default files, the daemon's.
    """
    def wrap(app):
        return cors.CORS(app, cfg.CONF)
    return wrap


def context_filter(global_conf, **local_conf):
    return context.ContextMiddleware


def noauth_filter(global_conf, **local_conf):
    return context.NoAuthMiddleware


def microversion_filter(global_conf, **local_conf):
    def wrap(app):
        return microversion_middleware.MicroversionMiddleware(
            app, microversion.SERVICE, microversion.VERSIONS,
            json_error_formatter=errors.json_formatter)
    return wrap


def pipeline_by_auth_strategy(loader, global_conf, **local_conf):
    """A composite: the pipeline named by ``[api] auth_strategy``."""
    names = local_conf[cfg.CONF.api.auth_strategy].split()
    app = loader.get_app(names[-1])
    for name in reversed(names[:-1]):
        app = loader.get_filter(name)(app)
    return app


def set_defaults():
    """CORS headers the API's clients send and read."""
    cors.set_defaults(
        allow_headers=['X-Auth-Token', 'X-OpenStack-Request-ID',
                       'OpenStack-API-Version'],
        expose_headers=['X-OpenStack-Request-ID', 'OpenStack-API-Version'],
        allow_methods=['GET', 'PUT', 'POST', 'DELETE'])


def parse_config(argv=None, default_config_files=None):
    """Register the API's options, read its files, set up logging."""
    conf = cfg.CONF
    reconciler_conf.restrict_umask()
    reconciler_conf.register_api(conf)
    rpc_api.configured(conf)     # oslo.messaging's [DEFAULT] options
    logging.register_options(conf)
    # alembic tells its context at INFO on every health check.
    logging.set_defaults(default_log_levels=(
        logging.get_default_log_levels() + ['alembic=WARN']))
    set_defaults()
    if default_config_files is None:
        listed = os.environ.get(CONFIG_ENV)
        default_config_files = (
            [p for p in listed.split(';') if p] if listed else
            [DEFAULT_CONFIG] if os.path.exists(DEFAULT_CONFIG) else [])
    try:
        conf(argv or [], project='cinder-reconciler',
             prog='cinder-reconciler-api', version=version.version_string(),
             default_config_files=default_config_files,
             default_config_dirs=[])
    except cfg.Error as e:
        # One line, as every command says it (reconciler.conf.parse).
        raise SystemExit('cinder-reconciler-api: %s' % e)
    logging.setup(conf, 'cinder-reconciler-api')
    from reconciler import log_masking
    log_masking.install()
    return conf


def load_app(conf=cfg.CONF):
    """The paste pipeline named ``main`` of ``[api] api_paste_config``."""
    path = conf.api.api_paste_config
    if not os.path.isabs(path):
        found = conf.find_file(path) or os.path.join(
            '/etc/cinder-reconciler', path)
        path = os.path.abspath(found)
    if not os.path.exists(path):
        raise cfg.ConfigFilesNotFoundError([path])
    LOG.info('Loading the API pipeline from %s', path)
    return deploy.loadapp('config:%s' % path, name='main')


def init_application(argv=None):
    """The WSGI application: configuration, logging, the pipeline."""
    return load_app(parse_config(argv))
