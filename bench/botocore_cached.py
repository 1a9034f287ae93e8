#!/usr/bin/env python3
"""What the AWS CLI does for an MFA role profile on a cache hit, as a credential_process helper.

Used by bench/compare.sh. It builds a botocore session for PROFILE, wires the AWS CLI's JSON file
cache (~/.aws/cli/cache) into the assume-role provider exactly as the AWS CLI does at start-up
(awscli.customizations.assumerole.inject_assume_role_provider_cache), resolves the credentials
and prints them as credential_process JSON.

    botocore_cached.py PROFILE                   # cache hit only: a cache miss fails (exit 4)
    botocore_cached.py PROFILE --mfa-code CODE   # warm-up: answers the MFA prompt with CODE

Without --mfa-code the MFA prompter raises, so a run that was not served from the cache cannot
succeed: it needs no terminal and never waits.
"""

import json
import sys

import botocore.session

try:
    # The AWS CLI's own cache location and class (the class is botocore's JSONFileCache).
    from awscli.customizations.assumerole import CACHE_DIR, JSONFileCache
except ImportError:  # botocore alone: same class, same directory as the AWS CLI
    import os

    from botocore.credentials import JSONFileCache

    CACHE_DIR = os.path.expanduser(os.path.join("~", ".aws", "cli", "cache"))


class CacheMiss(Exception):
    pass


def main(argv):
    if len(argv) not in (1, 3) or (len(argv) == 3 and argv[1] != "--mfa-code"):
        print("usage: botocore_cached.py PROFILE [--mfa-code CODE]", file=sys.stderr)
        return 2
    profile = argv[0]
    code = argv[2] if len(argv) == 3 else None

    def prompter(prompt):
        if code is None:
            raise CacheMiss(f"cache miss: botocore asks for the MFA code ({prompt.strip()})")
        return code

    session = botocore.session.Session(profile=profile)
    provider = session.get_component("credential_provider").get_provider("assume-role")
    provider.cache = JSONFileCache(CACHE_DIR)
    provider._prompter = prompter  # the mfa_prompter handed to AssumeRoleCredentialFetcher

    try:
        credentials = session.get_credentials()
        if credentials is None:
            print("botocore_cached.py: no credentials", file=sys.stderr)
            return 3
        frozen = credentials.get_frozen_credentials()
    except CacheMiss as e:
        print(f"botocore_cached.py: {e}", file=sys.stderr)
        return 4
    expiry = getattr(credentials, "_expiry_time", None)
    out = {
        "Version": 1,
        "AccessKeyId": frozen.access_key,
        "SecretAccessKey": frozen.secret_key,
        "SessionToken": frozen.token,
    }
    if expiry is not None:
        out["Expiration"] = expiry.isoformat().replace("+00:00", "Z")
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
