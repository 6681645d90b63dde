"""Verifies a Tessera access token with PyJWT, a JOSE implementation that is not ours.

Usage: verify_pyjwt.py TOKEN ISSUER AUDIENCE ALG  (JWKS JSON on stdin; HS256_SECRET in the
environment for HS256, whose secret is never published). Prints the verified claims as JSON.
"""
import json
import os
import sys

import jwt

token, issuer, audience, alg = sys.argv[1:5]
if alg == "HS256":
    key = os.environ["HS256_SECRET"]
else:
    jwks = jwt.PyJWKSet.from_dict(json.load(sys.stdin))
    kid = jwt.get_unverified_header(token)["kid"]
    key = next(k for k in jwks.keys if k.key_id == kid)
claims = jwt.decode(
    token,
    key,
    algorithms=[alg],
    audience=audience,
    issuer=issuer,
    options={"require": ["exp", "iat", "sub", "iss", "aud"]},
)
print(json.dumps(claims))
