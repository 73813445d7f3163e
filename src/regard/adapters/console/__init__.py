"""The web console: sign in with an access key, then look at faces, collections, matches and the audit log.

Served by ``regard serve`` at ``/console/``. Plain HTML, CSS and ES modules shipped as package data (no
build step, no Node.js, no CDN); every call goes through the same ``Regard.invoke`` as SigV4 requests, with
the signed-in key's ID and scope, so scopes and the audit log apply unchanged.
"""
