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

"""Spread the slow test classes evenly over stestr's workers on a new clone.

stestr balances its workers by the durations its repository remembers; a
fresh clone (CI) has none, so it hands out the test classes round-robin and
one worker can end up with the slow ones (33 against 20 minutes, seen).
``record`` keeps the seconds each class took in the newest run
(tools/test-times.json, committed); ``seed`` gives them to a repository
that has no durations yet, as a loaded run. A class the file does not know
is scheduled round-robin, as before; the file only needs refreshing when
classes get much slower or faster.

    python tools/test_times.py record   # after a full stestr run
    python tools/test_times.py seed     # before one (tools/run-tests.sh)
"""

import datetime
import io
import json
import os
import re
import subprocess
import sys

import subunit
import testtools

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMES = os.path.join(ROOT, 'tools', 'test-times.json')
STESTR = os.path.join(os.path.dirname(sys.executable), 'stestr')


def _group(test_id):
    """The scheduling unit, as .stestr.conf's group_regex makes it."""
    with open(os.path.join(ROOT, '.stestr.conf')) as f:
        pattern = re.search(r'^group_regex\s*=\s*(.+)$', f.read(),
                            re.M).group(1)
    match = re.match(pattern, test_id)
    return match.group(0).rstrip('.') if match else test_id


class _Durations(testtools.StreamResult):
    """Seconds per group, from the tests' start and end events."""

    def __init__(self):
        super().__init__()
        self.starts, self.times = {}, {}

    def status(self, test_id=None, test_status=None, timestamp=None, **kw):
        if not test_id or timestamp is None:
            return
        if test_status == 'inprogress':
            self.starts[test_id] = timestamp
        elif test_id in self.starts:
            group = _group(test_id)
            seconds = (timestamp - self.starts.pop(test_id)).total_seconds()
            self.times[group] = self.times.get(group, 0.0) + seconds


def record():
    """Seconds per group of the repository's newest run."""
    stream = subprocess.run([STESTR, 'last', '--subunit'], cwd=ROOT,
                            capture_output=True, check=True).stdout
    durations = _Durations()
    subunit.ByteStreamToStreamResult(io.BytesIO(stream)).run(durations)
    times = durations.times
    with open(TIMES, 'w') as f:
        json.dump({g: round(s, 1) for g, s in sorted(times.items())}, f,
                  indent=0, sort_keys=True)
        f.write('\n')
    print('%s: %d groups, %.0f s in all' % (
        os.path.relpath(TIMES, ROOT), len(times), sum(times.values())))


def seed():
    """Load the recorded durations into a new repository, as a run."""
    if os.path.isdir(os.path.join(ROOT, '.stestr')) or not os.path.exists(
            TIMES):
        return  # a developer's repository remembers its own runs
    with open(TIMES) as f:
        times = json.load(f)
    subprocess.run([STESTR, 'init'], cwd=ROOT, check=True,
                   capture_output=True)
    listed = subprocess.run([STESTR, 'list'], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.split()
    members = {}
    for test_id in listed:
        members.setdefault(_group(test_id), []).append(test_id)
    stream = io.BytesIO()
    out = subunit.StreamResultToBytes(stream)
    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    seeded = 0
    for group, seconds in times.items():
        for test_id in members.get(group, ()):
            share = datetime.timedelta(seconds=seconds / len(members[group]))
            out.status(test_id=test_id, test_status='inprogress',
                       timestamp=start)
            out.status(test_id=test_id, test_status='success',
                       timestamp=start + share)
            seeded += 1
    subprocess.run([STESTR, 'load', '--subunit'], cwd=ROOT, check=True,
                   input=stream.getvalue(), stdout=subprocess.DEVNULL)
    print('stestr: durations of %d of %d tests from %s' % (
        seeded, len(listed), os.path.relpath(TIMES, ROOT)))


if __name__ == '__main__':
    {'record': record, 'seed': seed}[sys.argv[1]]()
