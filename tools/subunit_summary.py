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
