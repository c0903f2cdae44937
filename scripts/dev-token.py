#!/usr/bin/env python3
"""Print an RS256 token signed with fixtures/keys/test-rsa-private.pem, for the
scripts that load or check a server started with fixtures/keys/test-rsa-public.pem.

    scripts/dev-token.py [ROLE] [LIFETIME_SECONDS]

ROLE goes into realm_access.roles (default: api, the distribution role); pass an
empty string for a token without roles. LIFETIME_SECONDS defaults to 7200.
Invalid arguments print a one-line error and exit with status 2. A failed
signature exits with status 1. Needs the openssl command. Test key only: never
configure it on a real deployment.
"""

import argparse
import base64
import json
import pathlib
import re
import subprocess
import sys
import time

KEY = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "keys" / "test-rsa-private.pem"

# The roles that the server's default settings grant access to:
# auth.distribution_roles (api, certificate-distribution) and auth.print_roles
# (facility-staff), set in bins/divoc-server/src/settings.rs.
ROLES = ("api", "certificate-distribution", "facility-staff")
DEFAULT_ROLE = "api"
DEFAULT_LIFETIME_SECONDS = 7200
# jsonwebtoken 12, which the server verifies tokens with, rejects an `exp` above
# the unsigned 64-bit range, and the server caches a verified token only when
# its `exp` fits a signed 64-bit integer.
MAX_EXP = 2**63 - 1


class OneLineErrorParser(argparse.ArgumentParser):
    """An argument parser that reports an invalid argument in one line, without the usage text."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def role_argument(value: str) -> str:
    if value and value not in ROLES:
        raise argparse.ArgumentTypeError(
            f"invalid role {value!r}: expected {', '.join(ROLES)}, or '' for a token without roles"
        )
    return value


def lifetime_argument(value: str) -> int:
    digits = value.lstrip("0")
    if not re.fullmatch(r"[0-9]+", value) or not digits:
        raise argparse.ArgumentTypeError(
            f"invalid lifetime {value!r}: expected a positive whole number of seconds"
        )
    max_lifetime = MAX_EXP - int(time.time())
    # The length check keeps int() away from strings of more than 4300 digits,
    # which it rejects with ValueError since Python 3.11 and 3.10.7.
    if len(digits) > len(str(max_lifetime)) or int(digits) > max_lifetime:
        raise argparse.ArgumentTypeError(
            f"invalid lifetime {value!r}: expected at most {max_lifetime} seconds"
        )
    return int(digits)


def parse_arguments() -> argparse.Namespace:
    # Raw text keeps the role names and key paths from being split at hyphens.
    parser = OneLineErrorParser(
        formatter_class=argparse.RawTextHelpFormatter,
        description=(
            "Print an RS256 token signed with the test key\n"
            "fixtures/keys/test-rsa-private.pem, for a server started with\n"
            "fixtures/keys/test-rsa-public.pem. Test key only: never configure it\n"
            "on a real deployment."
        ),
        epilog="Invalid arguments exit with status 2, and a failed signature with status 1.",
    )
    parser.add_argument(
        "role",
        nargs="?",
        default=DEFAULT_ROLE,
        type=role_argument,
        metavar="ROLE",
        help=(
            "role in realm_access.roles (default: %(default)s):\n"
            "api or certificate-distribution for distribution,\n"
            "facility-staff for printing,\n"
            "or '' for a token without roles"
        ),
    )
    parser.add_argument(
        "lifetime",
        nargs="?",
        default=DEFAULT_LIFETIME_SECONDS,
        type=lifetime_argument,
        metavar="LIFETIME_SECONDS",
        help="seconds until the token expires (default: %(default)s)",
    )
    return parser.parse_args()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(message: str) -> bytes:
    """Sign `message` with KEY through openssl, or exit with status 1 and a one-line error."""
    try:
        result = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(KEY)],
            input=message.encode(),
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        sys.exit("dev-token.py: error: openssl not found: install the openssl package")
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        detail = lines[0] if lines else f"exit status {result.returncode}"
        sys.exit(f"dev-token.py: error: openssl failed to sign with {KEY}: {detail}")
    return result.stdout


def main() -> None:
    arguments = parse_arguments()
    claims = {"sub": "script", "exp": int(time.time()) + arguments.lifetime}
    if arguments.role:
        claims["realm_access"] = {"roles": [arguments.role]}
    header = b64(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    signature = sign(f"{header}.{payload}")
    print(f"{header}.{payload}.{b64(signature)}")


if __name__ == "__main__":
    main()
