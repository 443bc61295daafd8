"""Drop-in routes for the original app's Next.js client (its paths, bodies and stream format).

Everything here maps the old contract onto the services the v1 API uses; no logic is
implemented twice. `router.py` says which routes exist and in which order they are mounted.
"""
