"""The web dashboard at `/` and the JavaScript client at `/client/datasync.js`.

Plain static files, no build step: the dashboard is ES modules that use the same client the
README offers to everyone else. Its routes are public (the pages hold no data; every API call
they make carries the user's bearer token).
"""
