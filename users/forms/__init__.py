"""The console's forms, one module per area, mirroring users/views/. Every rule an operator can
break is checked here, next to its field; fields.py holds the fields several areas share."""
