"""The embedded IAM backend: a moto server in a thread, extended where moto departs from
IAM's documented behaviour in ways the console's workflows depend on, with its state kept
in a snapshot file across restarts.

- fidelity.py: the extensions to moto (users/iam/embedded/credentials.py and report.py are
  two of them), applied once per process by `apply_moto_extensions()`;
- server.py: the server thread, its snapshots, and `python -m users.iam.embedded`.
"""

import os

# moto reads this whenever it builds an IAM backend; set it before any module of this package
# imports moto, so that no backend is ever built without the ~1,580 AWS managed policies the
# console offers.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
