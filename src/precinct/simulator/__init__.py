"""The living demo's simulator: a client of the HTTP API and the live feed that drives the units along the roads,
replays historical calls as new incidents, answers the units' orders and plays a patient dispatcher.

It never touches the database: everything it does goes through ``/api`` and ``/ws/events``, as a real terminal or
command screen would, so what it shows is what the platform does.
"""
