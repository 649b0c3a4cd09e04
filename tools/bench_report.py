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

"""The tail every mode of tools/bench.py shares.

Figures are measured (or read back with ``--load``) and summarised as they
come, then written (``--json``), drawn (``--plot``), tabled
(``--markdown``) and checked (``--quick``).
"""

import json
import resource


def report(args, measure_all, summary, plot=None, markdown=None,
           check=None, name='bench'):
    """The results of ``measure_all()`` (an iterable of result dicts, not
    called with ``--load``), reported as ``args`` asks; ``summary(r)`` is
    a result's lines, ``check(results)`` raises if ``--quick``'s figures
    are not sane.
    """
    if args.load:
        with open(args.load) as f:
            results = json.load(f)
        for r in results:
            print('\n'.join(summary(r)))
    else:
        results = []
        for r in measure_all():
            print('\n'.join(summary(r)), flush=True)
            results.append(r)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    if args.plot and plot is not None:
        plot(results, args.plot)
    if args.markdown and markdown is not None:
        print(markdown(results))
    if args.quick and check is not None:
        check(results)
        print('%s --quick: ok' % name)
    return results


def mark_rss():
    """Reset the peak RSS (Linux clear_refs 5); return the current RSS."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        pass
    return memory_mb('VmRSS')


def memory_mb(field, default=None):
    """A /proc/self/status memory field in MB, else ``default`` (None: the
    peak RSS).
    """
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1]) / 1024.0
    if default is not None:
        return default
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
