"""Open311 GeoReport v2 at /open311/v2/, with mySociety's servicerequestupdates extension.

Layers as elsewhere: ``params`` parses and checks input, ``definitions`` reads the services and
their attribute definitions, ``queries`` reads requests and updates, ``actions`` writes (through
the hotline's actions), ``records`` turns rows into Open311 fields, ``render`` writes XML or JSON,
``views`` wires one endpoint to each of them.
"""
