"""OAuth 2.0 client credentials (RFC 6749 §4.4) for machine clients.

A user creates clients with the scopes they may use (`controllers.ClientController`,
`clients`); a client exchanges its id and secret for a short-lived access token at
`POST /oauth/token` (`controllers.TokenController`, the request read by `token_request`);
the token is a JWT signed with a key derived from SECRET_KEY (`access_tokens`), and the
bearer middleware turns it into a scoped caller (app/auth/middleware.py) that the scope
guard holds to each route's scope (app/auth/scopes.py).
"""
