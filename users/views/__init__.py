"""The console's views, one module per area, mirroring templates/users/… and the URL tree.

Views are thin: they fetch and authorise through users/views/shortcuts.py, call the gateway or a
service module (provisioning, jobs, imports, deletion …) and render. A view module never
imports another view module; what they share lives in shortcuts.py.
"""
