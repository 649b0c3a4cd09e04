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

"""Print 'N passed, N failed, N skipped' for a subunit v2 stream on stdin."""

import collections
import sys

import subunit
import testtools


class _Counter(testtools.StreamResult):
    def __init__(self):
        super().__init__()
        self.counts = collections.Counter()

    def status(self, test_id=None, test_status=None, **kwargs):
        if test_id and test_status in ('success', 'fail', 'skip', 'xfail',
                                       'uxsuccess'):
            self.counts[test_status] += 1


def main():
    counter = _Counter()
    subunit.ByteStreamToStreamResult(sys.stdin.buffer).run(counter)
    c = counter.counts
    print('%d passed, %d failed, %d skipped'
          % (c['success'] + c['xfail'], c['fail'] + c['uxsuccess'],
             c['skip']))


if __name__ == '__main__':
    main()
