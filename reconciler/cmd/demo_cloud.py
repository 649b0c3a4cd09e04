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

"""The demo's cloud scope: Cinder against Keystone, and an undeletable
volume's runbook.

The demo's Keystone owns the scenario's projects (their volumes are given
to its project ids), and project-c is deleted: its volumes are
``orphan_project``. Two volumes are planted on fake1 beside the scenario's:
one whose create never finished (two days old, ``stuck_status``) and one
whose delete the array refused (``stuck_deleting``): it is still exported
to compute-9, and compute-9 still holds its LUN. The runbook then clears
both (compute-9's agent disconnects the LUN through os-brick, the driver
removes the export) and deletes it through Cinder's API. Nova's findings
(``stale_attachment``, ``dangling_bdm``) need a real Nova, which the demo
does not run (see doc/source/admin/cloud.rst for its cost); the functional
tests do.
"""

import datetime
import json
import time

from reconciler.cloud import manager as cloud_manager
from reconciler.cloud import scope
from reconciler.cmd import output
from reconciler.cmd import report
from reconciler.conf import backend as backend_conf
from reconciler import coordination
from reconciler.fleet import remediation as fleet_remediation
from reconciler.history import views
from reconciler import manager
from reconciler.remediation import cloud_remediator
from reconciler.simulators import keystone as keystone_sim
from reconciler.simulators import scenario as scenario_mod

uid = scenario_mod.uid
PROJECTS = ('project-a', 'project-b', 'project-c')
GONE = 'project-c'
PLANTED = (
    ('stuck-creating', 'cloud, planted: creating for two days'),
    ('stuck-delete', 'cloud, planted: error_deleting, exported to '
                     'compute-9, its LUN there'),
    ('being-created', 'cloud: creating for seconds, never stuck'),
)

CONF = """
[keystone]
auth_type = password
auth_url = {auth_url}
username = admin
password = {password}
project_name = admin
user_domain_id = default
project_domain_id = default

[cloud]
enabled = true
checks = stuck_status,orphan_project,stuck_deleting
sightings = 2
grace_period = 0
remediation_min_age = 0
"""


def conf_text(keystone):
    """Our file's cloud groups: Keystone's admin, the checks that need no
    Nova.
    """
    return CONF.format(auth_url=keystone.url + '/v3',
                       password=keystone_sim.ADMIN_PASSWORD)


def projects(cloud, keystone):
    """The scenario's projects made in Keystone (project-c then deleted),
    their volumes and snapshots given to its project ids.
    """
    keystone.wait_ready()
    for label in PROJECTS:
        project = keystone.create_project(label)
        cloud.rename_project(label, project)
        if label == GONE:
            keystone.admin.delete(keystone.auth_url + '/projects/%s'
                                  % project)


def plant(cloud, node, array_path, portal, iqn, compute):
    """The two planted volumes, the export and the LUN of one."""
    creating, stuck = uid('stuck-creating'), uid('stuck-delete')
    cloud.add_volumes([
        scenario_mod.Volume(creating, 'fake1', status='creating'),
        scenario_mod.Volume(stuck, 'fake1', status='error_deleting',
                            project='project-b')])
    two_days = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
        days=2)
    cloud.update_volume(creating, updated_at=two_days.strftime(
        '%Y-%m-%d %H:%M:%S.%f'))
    with open(array_path) as f:
        array = json.load(f)
    array['volumes'].append({'name': 'volume-%s' % stuck, 'pool': 'pool1',
                             'size': 1})
    array['exports'].append({'volume': 'volume-%s' % stuck, 'host': compute,
                             'initiators': [scenario_mod.initiator(compute)]})
    # As Cinder's volume service keeps it: a delete of an exported volume
    # is refused ("volume is busy").
    array['track_volumes'] = True
    with open(array_path, 'w') as f:
        json.dump(array, f)
    node.add_disk('sdd', '5:0:0:1', '36001405aaaaaaaaaaaaaaaaaaaaaaaa3',
                  iscsi=(portal, iqn % stuck, 1))


def run_pass(conf, store, notifier):
    result = cloud_manager.CloudReconciler(conf, store, notifier).run_pass()
    notifier.flush(store)
    print(report.cloud_pass_text(result))
    return result


def remediate(conf, store, notifier, cloud, fleet, section):
    """The cloud scope's plan, then the runbook of the undeletable volume
    applied (compute-9's LUN disconnected by its agent, ``fleet``'s), and
    the passes that resolve what it cleared.
    """
    coordinator = coordination.Coordinator(conf, member=False)
    try:
        def agent(conf, store, notifier, actor, host):
            return fleet_remediation.AgentRemediator(
                conf, store, notifier, actor, host, fleet.transport,
                fleet.coordinator, fleet=fleet.controller.fleet)

        def remediation(**kwargs):
            return cloud_remediator.CloudRemediator(
                conf, store, notifier, 'demo', coordinator,
                host_remediator=agent).run(**kwargs)

        section('Remediation plan for the cloud scope (cinder-reconciler-'
                'manage remediate --cloud: a dry run, nothing changes)')
        print(report.outcome_text(remediation()))
        [stuck] = store.findings(backend=scope.NAME, state='confirmed',
                                 kind='stuck_deleting')
        section('Applied: the runbook of the undeletable volume (remediate '
                "--cloud --finding %d --apply): compute-9's agent "
                "disconnects its LUN, the driver removes the export, Cinder's "
                'API resets and deletes it' % stuck.id)
        print(report.outcome_text(remediation(apply=True,
                                              finding_ids={stuck.id})))
    finally:
        coordinator.stop()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and cloud.session().get(
            '%s/volumes/%s' % (cloud.endpoint, stuck.resource_id),
            raise_exc=False).status_code != 404:
        time.sleep(0.5)    # Cinder's volume service deletes it
    section('The next passes over fake1, compute-9 and the cloud resolve '
            'what the runbook cleared')
    fake1 = [b for b in backend_conf.enabled(conf) if b.name == 'fake1'][0]
    result = manager.BackendReconciler(conf, fake1, store,
                                       notifier).run_pass()
    notifier.flush(store)
    print(report.pass_text(result))
    result = fleet.host_pass()
    notifier.flush(store)
    print(report.host_pass_text(result))
    run_pass(conf, store, notifier)
    section('The audit of the runbook (cinder-reconciler-manage actions '
            'list --finding %d, and of the steps it took on the other '
            'sides)' % stuck.id)
    output.emit_list(output.TABLE, [
        views.action_dict(a) for a in store.actions() if a.applied
        and a.action in ('disconnect', 'unexport', 'runbook')],
        views.ACTION_FIELDS)
    return stuck
