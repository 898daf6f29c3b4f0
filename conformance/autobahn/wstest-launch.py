# Starts wstest (Autobahn|Testsuite 0.8.2, Python 2) for conformance/run.sh, with two changes
# that do not touch any test case:
#
# * A daemon thread runs a full garbage collection every second. PyPy does not count the zlib
#   state that autobahn's permessage-deflate code allocates outside its heap, so without it the
#   compression cases (12.*, 13.*) leave about 250 MB each uncollected: 5 GB after 18 cases,
#   about 1 GB with it.
# * Servers wstest starts (-m fuzzingserver) listen on 127.0.0.1 only, not on all interfaces.
#
# Usage: pypy wstest-launch.py SITE_PACKAGES_DIR [wstest arguments...]
import gc
import site
import sys
import threading
import time

site.addsitedir(sys.argv.pop(1))


def collect_forever():
    while True:
        time.sleep(1.0)
        gc.collect()


collector = threading.Thread(target=collect_forever, name="gc")
collector.daemon = True
collector.start()

from autobahn.twisted import websocket  # noqa: E402

# listenWS(factory, contextFactory=None, backlog=50, interface=''): bind to loopback.
websocket.listenWS.__defaults__ = (None, 50, "127.0.0.1")

from autobahntestsuite.wstest import run  # noqa: E402

sys.argv[0] = "wstest"
run()
