"""`ray start ...` with every node pinned to 127.0.0.1 (usage: python ray_node.py start --head ...).

Ray 2.60 rewrites --node-ip-address=127.0.0.1 (and a 127.0.0.1 --address) into the machine's
network address, and its only switch against that (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0) also
forbids worker nodes. This launcher keeps loopback as given and exports the switch so the node's
own processes (raylet, agents, workers) resolve loopback the same way. Test-only: on a real
cluster every machine has a routable address and plain `ray start` is right.
"""
import os
import sys

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import ray._private.ray_constants as ray_constants  # noqa: E402
import ray._private.services as services  # noqa: E402

ray_constants.ENABLE_RAY_CLUSTER = True  # this process starts a worker node; it must not refuse
_resolve = services.resolve_ip_for_localhost
services.resolve_ip_for_localhost = lambda host: host if host == "127.0.0.1" else _resolve(host)

from ray.scripts.scripts import main  # noqa: E402

if __name__ == "__main__":
    sys.argv = ["ray", *sys.argv[1:]]
    main()
