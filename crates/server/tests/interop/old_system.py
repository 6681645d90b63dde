"""The old system of a team moving to Tessera, played by PyJWT with an OpenSSL key.

Usage: old_system.py sign PEM KID ALG   prints a token the old system issued (iss old.example)
       old_system.py jwks PEM KID ALG   prints a JWKS of the key's public half
"""
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_private_key

command, pem_path, kid, alg = sys.argv[1:5]
with open(pem_path, "rb") as f:
    private = load_pem_private_key(f.read(), password=None)
if command == "sign":
    now = int(time.time())
    claims = {"iss": "https://old.example", "aud": "shop", "sub": "alice", "iat": now, "exp": now + 600}
    print(jwt.encode(claims, private, algorithm=alg, headers={"kid": kid}))
else:
    algorithm = jwt.get_algorithm_by_name(alg)
    jwk = json.loads(algorithm.to_jwk(private.public_key()))
    jwk.update({"kid": kid, "alg": alg, "use": "sig"})
    print(json.dumps({"keys": [jwk]}))
