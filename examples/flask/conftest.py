"""The example's tests use the kit's server helper (clients/python/tests/tessera_server.py)."""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "clients", "python", "tests"))
sys.path.insert(0, here)
