"""`python -m users.iam.embedded --host 127.0.0.1 --port 8001 --snapshot PATH`."""

import sys

from users.iam.embedded.server import main

sys.exit(main())
