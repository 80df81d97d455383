"""The ABAAM scanner: pure domain code (no boto3, no Lambda types, no ``os.environ``).

Public entry points live in ``botscope.scanner.engine``; data shapes in ``botscope.scanner.model``.
"""
