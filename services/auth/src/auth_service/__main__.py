"""python -m auth_service: read settings, set up telemetry, serve gRPC on :50051.

`python -m auth_service rotate-dev-keys` rotates the development signing keys
(current becomes previous; both stay in the JWKS until the next rotation).
"""

from __future__ import annotations

import sys

from ipheron_libs import service

from auth_service.config import Settings
from auth_service.keys import rotate_dev_keys
from auth_service.repository import SCHEMA
from auth_service.server import SERVICE_NAME, AuthApp


def main() -> None:
    if sys.argv[1:] == ["rotate-dev-keys"]:
        ring = rotate_dev_keys(Settings().dev_keys_dir)
        sys.stdout.write(f"current kid {ring.current.kid}\n")
        return
    service.main(Settings, AuthApp, name=SERVICE_NAME, schema=SCHEMA)


if __name__ == "__main__":
    main()
