"""How the console's own operators prove who they are, beyond their password (mfa.py)."""
