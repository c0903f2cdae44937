#!/usr/bin/env python3
"""Prints an RS256 token signed with fixtures/keys/test-rsa-private.pem, for the
scripts that load or check a server started with fixtures/keys/test-rsa-public.pem.

    scripts/dev-token.py [ROLE] [LIFETIME_SECONDS]

ROLE goes into realm_access.roles (default: api, the distribution role); pass an
empty string for a token without roles. Needs the openssl command. Test key only:
never configure it on a real deployment.
"""

import base64
import json
import pathlib
import subprocess
import sys
import time

KEY = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "keys" / "test-rsa-private.pem"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


role = sys.argv[1] if len(sys.argv) > 1 else "api"
lifetime = int(sys.argv[2]) if len(sys.argv) > 2 else 7200
claims = {"sub": "script", "exp": int(time.time()) + lifetime}
if role:
    claims["realm_access"] = {"roles": [role]}
header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
payload = b64(json.dumps(claims).encode())
signature = subprocess.run(
    ["openssl", "dgst", "-sha256", "-sign", str(KEY)],
    input=f"{header}.{payload}".encode(),
    capture_output=True,
    check=True,
).stdout
print(f"{header}.{payload}.{b64(signature)}")
