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

"""Hosts whose scans stopped coming: their views are stale.

A host's newest run is its newest report (an agent's, or the all-in-one
unit's pass). When it is older than ``[agents] stale_intervals`` of the
host's scan interval (the one its last successful report gave, else this
process's ``[host_scan] interval``), the host is stale: nothing was
recorded of it meanwhile, so none of its findings was created or resolved
from a scan that did not come; ``runs list`` and the
``cinder_reconciler_host_stale`` metric say so. Read from the history, so
every controller says the same.
"""

import dataclasses

from reconciler.host import scope as host_scope


@dataclasses.dataclass(frozen=True)
class Silence:
    scope: str
    last_report: float      # when the newest run started
    interval: float         # the host's scan interval
    age: float
    stale: bool


def silences(last_runs, now, conf):
    """One :class:`Silence` per host scope of ``last_runs`` (backend ->
    its newest finished run, as ``History.snapshot().last_run``).
    """
    factor = conf.agents.stale_intervals
    found = []
    for scope, run in sorted(last_runs.items()):
        if host_scope.host_of(scope) is None:
            continue
        interval = (run.inventory or {}).get('scan_interval') or (
            conf.host_scan.interval)
        age = now - run.started_at
        found.append(Silence(scope, run.started_at, interval, age,
                             age > factor * interval))
    return found
