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

"""The remediation API of the controller (namespace ``remediation``).

The API service holds neither Cinder's nor the arrays' credentials, so it
asks a controller to plan or apply a backend's remediation. The controller
runs it exactly as ``cinder-reconciler-manage remediate --backend`` does
(reconciler.remediation.remediator.remediate_backend: the backend's
coordination lock, the gates, the limits, the re-checks and the audit),
with the actor the API took from the caller's token. Data deletion
(``--delete-data``) stays with the CLI on the controller.

1.0: ``remediate``.
"""

from oslo_log import log as logging

from reconciler.conf import validation
from reconciler import exception
from reconciler.history import views
from reconciler.remediation import remediator
from reconciler.rpc import api
from reconciler.rpc import controller

LOG = logging.getLogger(__name__)

NAMESPACE = 'remediation'


class RemediationEndpoint(api.Endpoint):
    """Served by every controller (entry point
    ``cinder_reconciler.controller_rpc``).
    """

    NAMESPACE = NAMESPACE
    VERSION = '1.0'

    def __init__(self, services):
        self.services = services

    def remediate(self, ctxt, backend, actor, apply=False, kinds=(),
                  finding_ids=(), quarantine=False, limit=None):
        """The outcome of one backend's remediation, as
        reconciler.history.views.outcome_dict renders it, or ``{"error":
        why}`` when it could not run (unknown backend, lock, database).
        """
        services = self.services
        try:
            found = [b for b in validation.enabled_backends(services.conf)
                     if b.name == backend]
            if not found:
                raise exception.ReconcilerError(
                    'backend %s is not reconciled by this controller'
                    % backend)
            LOG.info('Remediation of %s (%s) asked by %s (request %s)',
                     backend, 'apply' if apply else 'plan', actor,
                     ctxt.get('request_id'))
            outcome = remediator.remediate_backend(
                services.conf, found[0], services.history,
                services.notifier, services.coordinator, actor,
                apply=bool(apply), kinds=set(kinds or ()),
                finding_ids=set(finding_ids or ()),
                quarantine=bool(quarantine), limit=limit)
        except (exception.ReconcilerError,) + exception.DATABASE_ERRORS as e:
            return {'error': exception.describe(e)}
        return {'outcome': views.outcome_dict(outcome)}


class RemediationClient(api.Client):

    TOPIC = controller.TOPIC
    NAMESPACE = NAMESPACE
    VERSION = '1.0'
    CAP = 'remediation'

    def remediate(self, ctxt, backend, actor, **options):
        return self.prepare('1.0').call(ctxt, 'remediate', backend=backend,
                                        actor=actor, **options)
