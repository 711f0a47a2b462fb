"""Adapters: other platforms' payloads turned into canonical events (DESIGN section 2).

Each adapter is a pure function of one payload and its options; validating and storing the
events it returns is the caller's job, as for any other source.
"""
