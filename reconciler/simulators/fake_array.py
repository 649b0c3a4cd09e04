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

"""Render a scenario backend as the file the ``fake`` driver reads."""

import yaml

from reconciler import model
from reconciler.simulators import scenario as scn

C = model.ObjectClass


def render(scenario, backend, volume_template='volume-%s',
           snapshot_template='snapshot-%s'):
    volumes, snapshots, exports = [], [], []
    for obj in scenario.array_contents(backend):
        if obj.object_class == C.FOREIGN:
            name = obj.name
        elif obj.object_class == C.UNMANAGED:
            name = 'unm-%s' % obj.uuid
        elif obj.object_class == C.TEMPORARY:
            name = 'clone-snap-%s' % obj.uuid
        elif obj.kind == 'snapshot':
            name = snapshot_template % obj.uuid
        else:
            name = volume_template % obj.uuid
        if obj.kind == 'volume':
            volumes.append({'name': name, 'pool': obj.pool, 'size': obj.size})
        elif obj.kind == 'snapshot':
            snapshots.append({'name': name,
                              'volume': volume_template % obj.parent})
        else:
            exports.append({'volume': volume_template % obj.uuid,
                            'host': obj.host,
                            'initiators': [scn.initiator(obj.host)]})
    return {'volumes': volumes, 'snapshots': snapshots, 'exports': exports}


def write(scenario, backend, path):
    with open(path, 'w') as f:
        yaml.safe_dump(render(scenario, backend), f, sort_keys=False)
